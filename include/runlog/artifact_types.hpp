// SPDX-License-Identifier: MIT
#pragma once
// The vocabulary of artifacts — what log_artifact takes and returns — apart from the store
// (artifacts.hpp), so that code that only logs artifacts does not compile the store.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "error.hpp"
#include "value.hpp"

namespace runlog {
inline namespace v0 {

/// How log_artifact keeps a file.
enum class artifact_storage {
    copy,      // the store's own copy (default): safe when the file is rewritten or deleted later
    hardlink,  // a hard link: no copy, but a file rewritten in place changes the stored version
               // too (torch::save truncates and rewrites). Across file systems: a copy.
    reference  // digests and a symlink only: the file must stay where it is, unchanged
};

inline const char* to_string(artifact_storage s) noexcept {
    switch (s) {
        case artifact_storage::copy:
            return "copy";
        case artifact_storage::hardlink:
            return "hardlink";
        case artifact_storage::reference:
            return "reference";
    }
    return "copy";
}

/// A file or directory to put in an artifact.
struct artifact_file {
    artifact_file(std::filesystem::path from, std::string entry_name = {})
        : source(std::move(from)), name(std::move(entry_name)) {}
    artifact_file(const char* from) : source(from) {}
    artifact_file(const std::string& from) : source(from) {}

    std::filesystem::path source;
    /// Its path inside the artifact. Default: a file's own name; a directory's files go at the
    /// artifact's root (a name given for a directory becomes their prefix).
    std::string name;
};

struct artifact_options {
    std::vector<std::string> aliases{};  // besides "latest", which every new version takes
    value metadata{};                    // an object (or null)
    std::string description{};
    artifact_storage storage = artifact_storage::copy;
};

/// One version of an artifact, as logged or resolved.
struct artifact_version {
    std::string name;
    std::string type;
    std::int64_t version = -1;
    std::vector<std::string> aliases;  // resolve(): held now; log_artifact(): taken when logged
    std::filesystem::path dir;         // its files, at their entry paths
    value manifest;                    // the content of vN.json
    std::string error;                 // why there is no version (version < 0) ...
    errc code = errc::ok;              // ... as a code: invalid_artifact, artifact_store_failed
                                       // or artifact_not_found

    bool ok() const noexcept { return version >= 0; }
    /// "name:v3", which resolve() and use_artifact() accept.
    std::string ref() const { return name + ":v" + std::to_string(version); }
    /// Where entry `entry` is; with no argument, the only entry of a one-file artifact.
    std::filesystem::path path(std::string_view entry = {}) const {
        if (!entry.empty()) return dir / std::string(entry);
        const value* entries = manifest.find("entries");
        if (entries == nullptr || entries->size() != 1) return dir;
        return dir / entries->as_array().front().find("path")->as_string();
    }
    const value& metadata() const noexcept {
        static const value none = value::object();
        const value* m = manifest.find("metadata");
        return m ? *m : none;
    }
};

}  // namespace v0
}  // namespace runlog
