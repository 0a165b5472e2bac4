// SPDX-License-Identifier: MIT
#pragma once
// Settings from the environment, and the process's rank. Environment variables win over the
// settings passed to init() (an unattended job can be redirected without a rebuild); a bad value
// is a setup error that names the variable.

#include <cctype>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../settings.hpp"
#include "os.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

struct setup_error {
    errc code = errc::ok;
    std::string message;
    explicit operator bool() const noexcept { return code != errc::ok; }
};

inline bool is_valid_run_id(std::string_view id) noexcept {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        const auto u = static_cast<unsigned char>(c);
        if (!std::isalnum(u) && c != '_' && c != '-') return false;
    }
    return true;
}

inline std::vector<std::string> split_tags(std::string_view text) {
    std::vector<std::string> tags;
    while (!text.empty()) {
        const auto comma = text.find(',');
        std::string_view tag = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        while (!tag.empty() && std::isspace(static_cast<unsigned char>(tag.front())))
            tag.remove_prefix(1);
        while (!tag.empty() && std::isspace(static_cast<unsigned char>(tag.back())))
            tag.remove_suffix(1);
        if (!tag.empty()) tags.emplace_back(tag);
    }
    return tags;
}

/// Applies RUNLOG_* variables to `s`, then validates the result.
inline setup_error apply_environment(settings& s) {
    if (auto v = get_env("RUNLOG_DIR")) s.dir = *v;
    if (auto v = get_env("RUNLOG_PROJECT")) s.project = *v;
    if (auto v = get_env("RUNLOG_NAME")) s.name = *v;
    if (auto v = get_env("RUNLOG_GROUP")) s.group = *v;
    if (auto v = get_env("RUNLOG_TAGS")) s.tags = split_tags(*v);
    if (auto v = get_env("RUNLOG_ENTITY")) s.entity = *v;
    if (auto v = get_env("RUNLOG_ARTIFACT_DIR")) s.artifact_dir = *v;
    if (auto v = get_env("RUNLOG_RUN_ID")) {
        if (!is_valid_run_id(*v)) {
            return {
                errc::invalid_environment,
                "RUNLOG_RUN_ID='" + *v + "' is not a valid run id (1 to 64 of A-Z a-z 0-9 _ -)"};
        }
        s.id = *v;
    }
    if (auto v = get_env("RUNLOG_MODE")) {
        if (*v == "offline") {
            s.mode = run_mode::offline;
        } else if (*v == "disabled") {
            s.mode = run_mode::disabled;
        } else {
            return {errc::invalid_environment,
                    "RUNLOG_MODE='" + *v + "' is not a mode (use offline or disabled)"};
        }
    }
    if (auto v = get_env("RUNLOG_RESUME")) {
        if (*v == "never") {
            s.resume = resume_mode::never;
        } else if (*v == "allow") {
            s.resume = resume_mode::allow;
        } else if (*v == "must") {
            s.resume = resume_mode::must;
        } else {
            return {errc::invalid_environment,
                    "RUNLOG_RESUME='" + *v + "' is not a resume mode (use never, allow or must)"};
        }
    }
    if (auto v = get_env("RUNLOG_SINKS")) {
        if (split_tags(*v).empty()) {
            return {errc::invalid_environment,
                    "RUNLOG_SINKS is set but names no format: a run would write nothing (name "
                    "jsonl, wandb and/or tensorboard, or unset it for the settings in code)"};
        }
        s.native_files = false;
        s.wandb_offline = false;
        s.tensorboard = false;
        for (const auto& name : split_tags(*v)) {
            if (name == "jsonl") {
                s.native_files = true;
            } else if (name == "wandb") {
                s.wandb_offline = true;
            } else if (name == "tensorboard") {
                s.tensorboard = true;
            } else {
                return {errc::invalid_environment,
                        "RUNLOG_SINKS='" + *v + "' names '" + name +
                            "'; the file formats are jsonl, wandb and tensorboard"};
            }
        }
    }
    if (!s.id.empty() && !is_valid_run_id(s.id)) {
        return {errc::invalid_setting,
                "settings.id '" + s.id + "' is not a valid run id (1 to 64 of A-Z a-z 0-9 _ -)"};
    }
    if (s.queue_capacity < 2 || s.queue_capacity > (std::size_t{1} << 24)) {
        return {errc::invalid_setting, "settings.queue_capacity " +
                                           std::to_string(s.queue_capacity) +
                                           " is out of range (2 to 16777216 events)"};
    }
    if (s.media_queue_bytes == 0) {
        return {errc::invalid_setting, "settings.media_queue_bytes must be positive"};
    }
    if (s.flush_interval.count() <= 0) {
        return {errc::invalid_setting, "settings.flush_interval must be positive"};
    }
    if (s.block_timeout.count() < 0 || s.finish_timeout.count() < 0) {
        return {errc::invalid_setting,
                "settings.block_timeout and finish_timeout must not be negative"};
    }
    if (!s.config.is_null() && !s.config.is_object()) {
        return {errc::invalid_setting,
                "settings.config must be an object (key/value pairs), got " + s.config.dump()};
    }
    for (const auto& sink_ptr : s.sinks) {
        if (!sink_ptr) return {errc::invalid_setting, "settings.sinks holds a null sink"};
    }
    if (s.project.empty()) s.project = "uncategorized";
    if (s.dir.empty()) s.dir = ".";
    return {};
}

struct rank_info {
    int rank = 0;
    std::string source;  // the variable it came from, or ""
};

/// The first of RANK, SLURM_PROCID, OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK, JSM_NAMESPACE_RANK
/// that is set; LOCAL_RANK only when none is; else 0.
inline setup_error detect_rank(rank_info& out) {
    static const char* const variables[] = {"RANK",      "SLURM_PROCID", "OMPI_COMM_WORLD_RANK",
                                            "PMI_RANK",  "PMIX_RANK",    "JSM_NAMESPACE_RANK",
                                            "LOCAL_RANK"};
    for (const char* name : variables) {
        const auto v = get_env(name);
        if (!v) continue;
        char* end = nullptr;
        const long rank = std::strtol(v->c_str(), &end, 10);
        if (v->empty() || end == nullptr || *end != '\0' || rank < 0 || rank > 1000000000L) {
            return {errc::invalid_environment,
                    std::string(name) + "='" + *v + "' is not a rank (a non-negative integer)"};
        }
        out.rank = static_cast<int>(rank);
        out.source = name;
        return {};
    }
    out = rank_info{};
    return {};
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
