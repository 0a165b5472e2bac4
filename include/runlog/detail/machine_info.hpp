// SPDX-License-Identifier: MIT
#pragma once
// What a run records about where it ran, once at init: OS and kernel, host, CPU model and counts,
// memory, program, arguments, working directory, compiler and C++ standard, runlog's version,
// the batch scheduler's context (SLURM, PBS, LSF, Kubernetes) and the world size. Environment
// variables only when asked, and never one whose name looks like a secret. Goes into run.json
// ("environment") and W&B's wandb-metadata.json.

#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "../value.hpp"
#include "../version.hpp"
#include "os.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/utsname.h>
#endif

#if !defined(_WIN32)
extern char** environ;
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

/// The compiler that built the program, e.g. "g++ 12.2.0" or "clang++ 14.0.6".
inline std::string compiler_description() {
#if defined(__clang__)
    return "clang++ " __clang_version__;
#elif defined(__GNUC__)
    return "g++ " __VERSION__;
#elif defined(_MSC_VER)
    return "MSVC " + std::to_string(_MSC_VER);
#else
    return "unknown";
#endif
}

/// True for names like AWS_SECRET_ACCESS_KEY, GITHUB_TOKEN, DB_PASSWORD, WANDB_API_KEY.
inline bool looks_secret(const std::string& name) {
    std::string upper;
    for (char c : name) upper.push_back(static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c));
    for (const char* word : {"SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASS", "KEY", "CREDENTIAL",
                             "AUTH", "PRIVATE", "SESSION", "COOKIE", "SIGNATURE", "CERT"})
        if (upper.find(word) != std::string::npos) return true;
    return false;
}

inline std::string first_line_value(const std::string& text, const std::string& label) {
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(label, 0) != 0) continue;
        const std::size_t colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::size_t start = colon + 1;
        while (start < line.size() && line[start] == ' ') ++start;
        return line.substr(start);
    }
    return {};
}

/// The environment object of run.json. `with_variables`: also the process's environment,
/// secrets left out.
inline value describe_machine(bool with_variables) {
    value env = value::object();
#if defined(__unix__) || defined(__APPLE__)
    utsname u{};
    if (uname(&u) == 0) {
        env["os"] = std::string(u.sysname) + "-" + u.release + "-" + u.machine;
        env["kernel_version"] = u.version;
    }
#endif
    env["host"] = host_name();
    // As Python's getpass.getuser(), which W&B's metadata uses: the first of these variables.
    for (const char* name : {"LOGNAME", "USER", "LNAME", "USERNAME"}) {
        if (auto user = get_env(name); user && !user->empty()) {
            env["username"] = *user;
            break;
        }
    }
    const std::string cpuinfo = read_small_file("/proc/cpuinfo");
    if (!cpuinfo.empty()) {
        env["cpu_model"] = first_line_value(cpuinfo, "model name");
        // Physical cores: distinct (physical id, core id) pairs.
        std::set<std::string> cores;
        std::istringstream in(cpuinfo);
        std::string physical;
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("physical id", 0) == 0) physical = line.substr(line.find(':') + 1);
            if (line.rfind("core id", 0) == 0)
                cores.insert(physical + "/" + line.substr(line.find(':') + 1));
        }
        if (!cores.empty()) env["cpu_count"] = cores.size();
    }
    env["cpu_count_logical"] = std::thread::hardware_concurrency();
    const std::string meminfo = read_small_file("/proc/meminfo");
    if (!meminfo.empty()) {
        const std::string total = first_line_value(meminfo, "MemTotal");  // "16336472 kB"
        env["memory_total_bytes"] = static_cast<std::uint64_t>(std::atoll(total.c_str())) * 1024u;
    }
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) env["executable"] = exe.string();
    const auto args = command_line();
    value argv = value::array();
    for (const auto& a : args) argv.push_back(a);
    env["args"] = std::move(argv);
    const auto cwd = std::filesystem::current_path(ec);
    if (!ec) env["cwd"] = cwd.string();
    env["compiler"] = compiler_description();
    env["cplusplus"] = static_cast<std::int64_t>(__cplusplus);
    env["runlog_version"] = RUNLOG_VERSION_STRING;

    // Batch schedulers: what people debug a job with.
    value scheduler = value::object();
    for (const char* name : {"SLURM_JOB_ID",
                             "SLURM_ARRAY_JOB_ID",
                             "SLURM_ARRAY_TASK_ID",
                             "SLURM_JOB_NAME",
                             "SLURM_JOB_NODELIST",
                             "SLURM_NNODES",
                             "SLURM_NTASKS",
                             "SLURM_PROCID",
                             "SLURM_JOB_PARTITION",
                             "SLURM_CLUSTER_NAME",
                             "PBS_JOBID",
                             "PBS_JOBNAME",
                             "PBS_ARRAYID",
                             "PBS_ARRAY_INDEX",
                             "PBS_NODEFILE",
                             "LSB_JOBID",
                             "LSB_JOBNAME",
                             "LSB_JOBINDEX",
                             "LSB_HOSTS",
                             "KUBERNETES_SERVICE_HOST",
                             "JOB_ID",
                             "SGE_TASK_ID"})
        if (auto v = get_env(name)) scheduler[name] = *v;
    if (scheduler.contains("KUBERNETES_SERVICE_HOST")) {
        if (auto pod = get_env("HOSTNAME")) scheduler["kubernetes_pod"] = *pod;
        const std::string ns =
            read_small_file("/var/run/secrets/kubernetes.io/serviceaccount/namespace");
        if (!ns.empty()) scheduler["kubernetes_namespace"] = ns;
    }
    if (scheduler.size() > 0) env["scheduler"] = std::move(scheduler);
    for (const char* name :
         {"WORLD_SIZE", "SLURM_NTASKS", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
        if (auto v = get_env(name)) {
            env["world_size"] = std::atoll(v->c_str());
            break;
        }
    }

#if !defined(_WIN32)
    if (with_variables) {
        value vars = value::object();
        for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
            const std::string entry = *e;
            const std::size_t eq = entry.find('=');
            if (eq == std::string::npos) continue;
            const std::string name = entry.substr(0, eq);
            if (!looks_secret(name)) vars[name] = entry.substr(eq + 1);
        }
        env["variables"] = std::move(vars);
    }
#else
    (void)with_variables;
#endif
    return env;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
