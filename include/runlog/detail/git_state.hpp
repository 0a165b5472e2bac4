// SPDX-License-Identifier: MIT
#pragma once
// The code state a run records: the git commit, branch, remote URL and whether the working tree
// differs from the index — read from `.git` itself (HEAD, refs, packed-refs, config, index), so no
// `git` binary is needed on the compute node.
//
//   commit   HEAD's commit (a symbolic ref is followed through refs/ then packed-refs)
//   branch   the branch HEAD names; "" when detached
//   remote   remote "origin"'s url (else the first remote's), user and password removed
//   dirty    true when a tracked file is missing, or its size or content differs from the index
//            (content checked with git's blob SHA-1 when only the time stamp differs), or the
//            index holds a merge conflict; null when the index cannot be read (format v4, or
//            more than 100,000 entries). Untracked files do not count, as in `git describe
//            --dirty`. Staged changes (index differs from HEAD) are not detected: that needs
//            git's compressed objects.
//
// Worktrees and submodules (a `.git` file "gitdir: <path>") are followed; refs shared through
// `commondir` are read from the common directory.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>

#include "../value.hpp"
#include "checksums.hpp"
#include "os.hpp"

#if !defined(_WIN32)
#include <sys/stat.h>  // stat: the index's time stamps are the file's st_mtime
#endif

namespace runlog {
inline namespace v0 {
namespace detail {

struct git_state {
    bool found = false;
    std::filesystem::path work_tree;
    std::string commit;
    std::string branch;
    std::string remote;
    std::optional<bool> dirty;

    /// {"commit", "branch", "remote", "dirty", "root"}; null when no repository was found.
    value to_value() const {
        if (!found) return value();
        return {{"commit", commit},
                {"branch", branch},
                {"remote", remote},
                {"dirty", dirty ? value(*dirty) : value()},
                {"root", work_tree.string()}};
    }
};

namespace git_detail {

inline std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    std::size_t i = 0;
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    return s.substr(i);
}

/// The commit a ref names: the loose ref file, else its line in packed-refs.
inline std::string resolve_ref(const std::filesystem::path& common, const std::string& ref) {
    std::string loose = trim(read_small_file(common / ref));
    if (loose.rfind("ref: ", 0) == 0) return resolve_ref(common, loose.substr(5));
    if (loose.size() >= 40) return loose.substr(0, 40);
    std::istringstream packed(read_small_file(common / "packed-refs"));
    for (std::string line; std::getline(packed, line);) {
        if (line.size() > 41 && line[0] != '#' && line[0] != '^' && trim(line.substr(41)) == ref)
            return line.substr(0, 40);
    }
    return {};
}

/// "https://user:secret@host/x.git" -> "https://host/x.git"; "user@host:x.git" (scp form) is
/// kept: its user is a login name, not a secret.
inline std::string strip_credentials(const std::string& url) {
    const std::size_t scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    const std::size_t host_start = scheme + 3;
    const std::size_t path = url.find('/', host_start);
    const std::size_t at = url.rfind('@', path == std::string::npos ? url.size() : path);
    if (at == std::string::npos || at < host_start) return url;
    return url.substr(0, host_start) + url.substr(at + 1);
}

/// The url of remote "origin" (or else the first remote) in a git config file.
inline std::string remote_url(const std::string& config) {
    std::istringstream in(config);
    std::string section, first_url, origin_url;
    for (std::string line; std::getline(in, line);) {
        line = trim(line);
        if (!line.empty() && line[0] == '[') {
            section = line;
            continue;
        }
        if (section.rfind("[remote ", 0) != 0 || line.rfind("url", 0) != 0) continue;
        const std::size_t eq = line.find('=');
        if (eq == std::string::npos) continue;
        const std::string url = trim(line.substr(eq + 1));
        if (first_url.empty()) first_url = url;
        if (section == "[remote \"origin\"]") origin_url = url;
    }
    return strip_credentials(origin_url.empty() ? first_url : origin_url);
}

inline std::uint32_t be16(const std::string& s, std::size_t at) {
    return (std::uint32_t{static_cast<std::uint8_t>(s[at])} << 8u) |
           std::uint32_t{static_cast<std::uint8_t>(s[at + 1])};
}

inline std::uint32_t be32(const std::string& s, std::size_t at) {
    return (std::uint32_t{static_cast<std::uint8_t>(s[at])} << 24u) |
           (std::uint32_t{static_cast<std::uint8_t>(s[at + 1])} << 16u) |
           (std::uint32_t{static_cast<std::uint8_t>(s[at + 2])} << 8u) |
           std::uint32_t{static_cast<std::uint8_t>(s[at + 3])};
}

/// Compares the working tree with the index (versions 2 and 3).
inline std::optional<bool> working_tree_dirty(const std::filesystem::path& git_dir,
                                              const std::filesystem::path& work_tree) {
    namespace fs = std::filesystem;
    const std::string index = read_small_file(git_dir / "index");
    if (index.empty()) return false;  // a fresh repository: nothing tracked
    if (index.size() < 12 || index.compare(0, 4, "DIRC") != 0) return std::nullopt;
    const std::uint32_t version = be32(index, 4), entries = be32(index, 8);
    if ((version != 2 && version != 3) || entries > 100000) return std::nullopt;
    std::size_t at = 12;
    for (std::uint32_t n = 0; n < entries; ++n) {
        if (at + 62 > index.size()) return std::nullopt;
        const std::uint32_t mtime = be32(index, at + 8), mode = be32(index, at + 24),
                            size = be32(index, at + 36);
        const std::string id = index.substr(at + 40, 20);
        const std::uint32_t flags = be16(index, at + 60);
        const bool extended = (flags & 0x4000u) != 0;
        const std::size_t path_at = at + 62 + (extended ? 2 : 0);
        const std::size_t path_end = index.find('\0', path_at);
        if (path_end == std::string::npos) return std::nullopt;
        const std::string path = index.substr(path_at, path_end - path_at);
        at += ((path_end - at) + 8) & ~std::size_t{7};  // entries are NUL-padded to 8 bytes
        if (((flags >> 12u) & 3u) != 0) return true;    // a merge conflict (stage 1-3)
        const bool assume_unchanged = (flags & 0x8000u) != 0;
        const bool skip_worktree = extended && (be16(index, path_at - 2) & 0x4000u) != 0;
        const std::uint32_t type = mode >> 12u;
        if (assume_unchanged || skip_worktree || type == 016) continue;  // 016: a submodule
        std::error_code ec;
        const fs::path file = work_tree / path;
        const auto status = fs::symlink_status(file, ec);
        if (ec || !fs::exists(status)) return true;  // deleted
        if (type == 012) continue;                   // a symlink: its target is not compared
        const auto file_size = fs::file_size(file, ec);
        if (ec || static_cast<std::uint32_t>(file_size) != size) return true;
#if !defined(_WIN32)
        struct stat st {};
        if (::stat(file.c_str(), &st) == 0 && static_cast<std::uint32_t>(st.st_mtime) == mtime)
            continue;
#else
        (void)mtime;
#endif
        // The time stamp differs: compare contents as git does, by the blob's SHA-1.
        const std::string content = read_small_file(file);
        const std::string blob = "blob " + std::to_string(content.size()) + '\0' + content;
        std::string hex_id;
        static const char hex[] = "0123456789abcdef";
        for (char c : id) {
            hex_id.push_back(hex[static_cast<std::uint8_t>(c) >> 4u]);
            hex_id.push_back(hex[static_cast<std::uint8_t>(c) & 0xFu]);
        }
        if (sha1_hex(blob.data(), blob.size()) != hex_id) return true;
    }
    return false;
}

}  // namespace git_detail

/// `git diff HEAD` of the work tree (uncommitted changes to tracked files), at most `cap`
/// bytes; "" when git is not installed or fails. Runs the git binary: the one part of the code
/// state that needs it (the diff needs git's compressed objects).
inline std::string git_diff(const std::filesystem::path& work_tree, std::size_t cap,
                            bool& truncated) {
    truncated = false;
#if !defined(_WIN32)
    std::string quoted = "'";
    for (char c : work_tree.string())
        quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
    const std::string command =
        "git -C " + quoted + " diff HEAD --no-color --no-ext-diff 2>/dev/null";
    std::FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return {};
    std::string out;
    char buffer[8192];
    for (std::size_t got; (got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0;) {
        if (out.size() + got > cap) {
            out.append(buffer, cap - out.size());
            truncated = true;
            break;  // closing the pipe ends git with SIGPIPE
        }
        out.append(buffer, got);
    }
    const int status = ::pclose(pipe);
    if (status != 0 && !truncated) return {};
    return out;
#else
    (void)work_tree;
    (void)cap;
    return {};
#endif
}

/// The repository holding `start` (searching upwards), or found == false.
inline git_state read_git_state(const std::filesystem::path& start) {
    namespace fs = std::filesystem;
    git_state out;
    std::error_code ec;
    fs::path dir = fs::absolute(start, ec);
    if (ec) return out;
    fs::path git_dir;
    for (;; dir = dir.parent_path()) {
        const fs::path candidate = dir / ".git";
        if (fs::is_directory(candidate, ec)) {
            git_dir = candidate;
            break;
        }
        if (fs::is_regular_file(candidate, ec)) {  // worktree or submodule: "gitdir: <path>"
            const std::string text = git_detail::trim(read_small_file(candidate));
            if (text.rfind("gitdir: ", 0) == 0) {
                git_dir = fs::path(text.substr(8));
                if (git_dir.is_relative()) git_dir = dir / git_dir;
                break;
            }
        }
        if (dir == dir.parent_path()) return out;
    }
    fs::path common = git_dir;
    const std::string common_text = git_detail::trim(read_small_file(git_dir / "commondir"));
    if (!common_text.empty())
        common =
            fs::path(common_text).is_relative() ? git_dir / common_text : fs::path(common_text);
    const std::string head = git_detail::trim(read_small_file(git_dir / "HEAD"));
    if (head.empty()) return out;
    out.found = true;
    out.work_tree = dir;
    if (head.rfind("ref: ", 0) == 0) {
        const std::string ref = head.substr(5);
        if (ref.rfind("refs/heads/", 0) == 0) out.branch = ref.substr(11);
        out.commit = git_detail::resolve_ref(common, ref);  // "" on an unborn branch
    } else {
        out.commit = head.substr(0, 40);  // detached
    }
    out.remote = git_detail::remote_url(read_small_file(common / "config"));
    out.dirty = git_detail::working_tree_dirty(git_dir, dir);
    return out;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
