// SPDX-License-Identifier: MIT
#pragma once
// Artifacts: versioned sets of files (checkpoints, datasets) with aliases, kept in a local store
// that works offline and travels with the run directories (docs/artifacts.md).
//
//   <store>/                      default <dir>/runlog/artifacts/ (settings::artifact_dir)
//     .lock                       held while a version commits, an alias moves or versions are
//     pruned .staging/<host>-<pid>-<r>/  files being copied in, outside the lock <name>/
//       aliases.json              {"latest": 4, "best": 2}, replaced atomically
//       v0.json                   manifest of version 0 (its commit point)
//       v0/                       its files at their entry paths
//
// A version commits in this order: its files are staged and hashed (SHA-256 and MD5 in one read);
// then, under the lock, content already stored is hard-linked instead of kept twice, the staged
// directory is renamed to vN/, vN.json is written (temp file + rename) and aliases.json replaced,
// each step fsynced (files and directories) before the next, so the order holds after a power cut.
// A crash at any point leaves every alias naming a committed version: the worst left over is a
// vN/ without vN.json or a staging directory, which no reader looks at.
//
// The store never writes to, moves or deletes the files it is given: a copy is its own, a
// hard link is its own name for the file, a reference is a symlink. Pruning removes only those.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "artifact_types.hpp"
#include "detail/checksums.hpp"
#include "detail/json_reader.hpp"
#include "detail/os.hpp"
#include "error.hpp"
#include "value.hpp"

#if !defined(_WIN32)
#include <signal.h>  // kill(pid, 0): is a staging directory's owner alive?
#include <unistd.h>  // link, fsync
#endif

namespace runlog {
inline namespace v0 {

namespace detail {

inline bool is_artifact_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

/// W&B's artifact name rule, [A-Za-z0-9_.-], not starting with '.' (the store's own files do).
inline bool valid_artifact_name(std::string_view s) noexcept {
    if (s.empty() || s.size() > 128 || s.front() == '.') return false;
    return std::all_of(s.begin(), s.end(), is_artifact_char);
}

/// "v<digits>", a version written as a reference.
inline bool is_version_text(std::string_view s) noexcept {
    return s.size() >= 2 && s[0] == 'v' &&
           std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// N of "vN" (is_version_text), saturating instead of overflowing.
inline std::int64_t version_number(std::string_view s) noexcept {
    std::int64_t n = 0;
    for (char c : s.substr(1)) n = n > (INT64_MAX - 9) / 10 ? INT64_MAX : n * 10 + (c - '0');
    return n;
}

/// An alias: like a name, and not "v3" (that is how a version is written).
inline bool valid_alias(std::string_view s) noexcept {
    return valid_artifact_name(s) && !is_version_text(s);
}

/// A relative path with '/' separators, no empty, "." or ".." segment: it cannot leave vN/.
inline bool valid_entry_path(std::string_view s) noexcept {
    if (s.empty() || s.front() == '/' || s.back() == '/' || !is_valid_utf8(s)) return false;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t end = s.find('/', start);
        if (end == std::string_view::npos) end = s.size();
        const std::string_view segment = s.substr(start, end - start);
        if (segment.empty() || segment == "." || segment == "..") return false;
        if (segment.find('\\') != std::string_view::npos ||
            segment.find('\0') != std::string_view::npos)
            return false;
        start = end + 1;
    }
    return true;
}

/// True when `m` has what readers of a manifest rely on: a valid name, a version, and entries
/// with a valid path, a size, a SHA-256 and an MD5 each. (export checks manifests it reads.)
inline bool valid_artifact_manifest(const value& m) {
    const value* name = m.find("name");
    const value* version = m.find("version");
    const value* entries = m.find("entries");
    if (!name || !valid_artifact_name(name->as_string()) || !version || !version->is_int() ||
        version->as_int() < 0 || !entries || !entries->is_array())
        return false;
    for (const auto& e : entries->as_array()) {
        const value* path = e.find("path");
        const value* size = e.find("size");
        const value* sha = e.find("sha256");
        const value* md5 = e.find("md5");
        if (!path || !valid_entry_path(path->as_string()) || !size || !size->is_int() || !sha ||
            sha->as_string().size() != 64 || !md5 || md5->as_string().size() != 24)
            return false;
        for (char c : sha->as_string())  // it names files (W&B export): hex only
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

/// The manifest of the version whose files are in `version_dir` (<store>/<name>/vN), or null.
inline value manifest_of(const fs::path& version_dir) {
    fs::path file = version_dir;
    file += ".json";
    value m;
    std::string ignored;
    return read_json_file(file, m, ignored) ? m : value();
}

/// What one read of a file gives: its size, SHA-256 (hex) and MD5 (base64, as W&B wants it).
struct file_digests {
    std::uint64_t size = 0;
    std::string sha256;
    std::string md5_base64;
};

/// Reads `from` once, hashing it and, when `to` is not empty, copying it there (and fsync-ing the
/// copy: a checkpoint the store says it has must survive a power cut). "" or what went wrong.
inline std::string hash_file(const fs::path& from, const fs::path& to, file_digests& out) {
    std::FILE* in = std::fopen(from.string().c_str(), "rb");
    if (in == nullptr) {
        return "cannot read '" + from.string() + "': " + describe({errno, std::generic_category()});
    }
    std::FILE* copy = nullptr;
    if (!to.empty() && (copy = std::fopen(to.string().c_str(), "wb")) == nullptr) {
        const int e = errno;
        std::fclose(in);
        return "cannot create '" + to.string() + "': " + describe({e, std::generic_category()});
    }
    std::vector<std::uint8_t> buffer(std::size_t{1} << 20);
    sha256 sha;
    md5 md;
    std::string error;
    out.size = 0;
    for (;;) {
        const std::size_t n = std::fread(buffer.data(), 1, buffer.size(), in);
        if (n > 0) {
            sha.update(buffer.data(), n);
            md.update(buffer.data(), n);
            out.size += n;
            if (copy != nullptr && std::fwrite(buffer.data(), 1, n, copy) != n) {
                error = "cannot write '" + to.string() +
                        "': " + describe({errno, std::generic_category()});
                break;
            }
        }
        if (n < buffer.size()) {
            if (std::ferror(in)) error = "cannot read '" + from.string() + "'";
            break;
        }
    }
    std::fclose(in);
    if (copy != nullptr) {
        bool synced = std::fflush(copy) == 0;
#if !defined(_WIN32)
        synced = synced && ::fsync(fileno(copy)) == 0;
#endif
        if (std::fclose(copy) != 0 || !synced) {
            if (error.empty())
                error = "cannot write '" + to.string() +
                        "': " + describe({errno, std::generic_category()});
        }
    }
    if (!error.empty()) return error;
    out.sha256 = sha.hex_digest();
    const auto digest = md.digest();
    out.md5_base64 = base64(digest.data(), digest.size());
    return {};
}

/// Splits "entity/project/name:alias" (W&B's full form; entity and project are ignored) into
/// name and version-or-alias ("latest" when there is no ':').
inline std::pair<std::string, std::string> split_artifact_ref(std::string_view ref) {
    if (const auto slash = ref.rfind('/'); slash != std::string_view::npos)
        ref = ref.substr(slash + 1);
    const auto colon = ref.find(':');
    if (colon == std::string_view::npos) return {std::string(ref), "latest"};
    return {std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
}

}  // namespace detail

/// A directory of artifacts. Cheap to construct (nothing is touched until used); safe to share
/// between threads and processes (commits take an exclusive lock on <store>/.lock).
class artifact_store {
  public:
    explicit artifact_store(std::filesystem::path dir) : dir_(std::move(dir)) {}
    const std::filesystem::path& dir() const noexcept { return dir_; }

    /// Commits `files` as the next version of `name`: it takes "latest" and `options.aliases`
    /// (moving them from the versions that held them). On failure the result's `error` says
    /// why and the store is as it was. `run_id` is recorded as the version's producer.
    artifact_version add(std::string_view name, std::string_view type,
                         const std::vector<artifact_file>& files,
                         const artifact_options& options = {},
                         const std::string& run_id = {}) const {
        artifact_version out;
        out.name = std::string(name);
        out.type = std::string(type);
        if (!detail::valid_artifact_name(name))
            return fail(out, "artifact name '" + std::string(name) +
                                 "' is not 1 to 128 of A-Z a-z 0-9 _ - . (not starting with .)");
        if (!detail::valid_artifact_name(type))
            return fail(out, "artifact type '" + std::string(type) + "' for '" + std::string(name) +
                                 "' is not 1 to 128 of A-Z a-z 0-9 _ - .");
        for (const auto& alias : options.aliases)
            if (!detail::valid_alias(alias))
                return fail(out, "alias '" + alias + "' for '" + std::string(name) +
                                     "' is not 1 to 128 of A-Z a-z 0-9 _ - . (and not v<N>)");
        if (!options.metadata.is_null() && !options.metadata.is_object())
            return fail(out, "metadata for '" + std::string(name) + "' must be an object");
        std::vector<planned> plan;
        if (std::string e = plan_entries(files, plan); !e.empty())
            return fail(out, "artifact '" + std::string(name) + "': " + e);

        std::error_code ec;
        const std::filesystem::path staging =
            dir_ / ".staging" /
            (detail::host_name() + "-" + std::to_string(detail::process_id()) + "-" +
             detail::random_run_id());
        std::filesystem::create_directories(staging, ec);
        if (ec)
            return fail(out, "cannot create '" + staging.string() + "': " + ec.message(),
                        errc::artifact_store_failed);
        value entries = value::array();
        std::uint64_t total = 0;
        const std::string error = stage(plan, staging, options.storage, entries, total);
        if (!error.empty()) {
            std::filesystem::remove_all(staging, ec);
            return fail(out, "artifact '" + std::string(name) + "': " + error,
                        errc::artifact_store_failed);
        }

        detail::file_lock lock(dir_ / ".lock");
        if (!lock.error().empty()) {
            std::filesystem::remove_all(staging, ec);
            return fail(out, lock.error(), errc::artifact_store_failed);
        }
        remove_abandoned_staging();
        deduplicate(entries, staging);
        const std::filesystem::path name_dir = dir_ / std::string(name);
        if (std::filesystem::create_directories(name_dir, ec)) ec = sync_tree(dir_, false);
        const std::int64_t number = next_version(name_dir);
        const std::filesystem::path version_dir = name_dir / ("v" + std::to_string(number));
        if (!ec) ec = sync_tree(staging);  // the staged names survive a power cut
        if (!ec) std::filesystem::rename(staging, version_dir, ec);
        if (!ec) ec = sync_tree(name_dir, false);  // ... and so does the rename
        if (ec) {
            const std::string why = ec.message();
            std::filesystem::remove_all(staging, ec);
            return fail(out,
                        "cannot store version " + std::to_string(number) + " of '" +
                            std::string(name) + "' in '" + name_dir.string() + "': " + why,
                        errc::artifact_store_failed);
        }
        std::vector<std::string> aliases{"latest"};
        for (const auto& alias : options.aliases)
            if (std::find(aliases.begin(), aliases.end(), alias) == aliases.end())
                aliases.push_back(alias);
        value alias_list = value::array();
        for (const auto& alias : aliases) alias_list.push_back(alias);
        value manifest = {
            {"format", "runlog-artifact/1"},
            {"name", out.name},
            {"type", out.type},
            {"version", number},
            {"created_at", detail::unix_time_now()},
            {"run_id", run_id},
            {"description", options.description},
            {"metadata", options.metadata.is_object() ? options.metadata : value::object()},
            {"aliases", alias_list},
            {"size", total},
            {"entries", entries}};
        if (io_result r = write_json(manifest_path(name_dir, number), manifest); !r.ok()) {
            std::filesystem::remove_all(version_dir, ec);
            return fail(out, r.message, errc::artifact_store_failed);
        }
        value current = read_aliases(name_dir);
        for (const auto& alias : aliases) current[alias] = number;
        if (io_result r = write_json(name_dir / "aliases.json", current); !r.ok())
            return fail(out,
                        "version " + std::to_string(number) + " of '" + out.name +
                            "' is stored but its aliases were not moved: " + r.message,
                        errc::artifact_store_failed);
        out.version = number;
        out.aliases = std::move(aliases);
        out.dir = version_dir;
        out.manifest = std::move(manifest);
        return out;
    }

    /// The version `ref` names: "name:v3", "name:best", "name" (= "name:latest"), or W&B's
    /// "entity/project/name:alias". Its files are checked (present, sizes as stored); `error`
    /// says what exists when nothing matches.
    artifact_version resolve(std::string_view ref) const {
        artifact_version out;
        auto [name, which] = detail::split_artifact_ref(ref);
        out.name = name;
        std::error_code ec;
        if (!std::filesystem::is_directory(dir_, ec))
            return fail(out,
                        "no artifact store at '" + dir_.string() +
                            "' (runs keep artifacts in <dir>/runlog/artifacts)",
                        errc::artifact_not_found);
        if (!detail::valid_artifact_name(name) || !std::filesystem::is_directory(dir_ / name, ec)) {
            const auto all = names();
            std::string known;
            for (const auto& n : all) known += (known.empty() ? "" : ", ") + n;
            return fail(out,
                        "no artifact '" + name + "' in '" + dir_.string() + "'; " +
                            (all.empty() ? "the store is empty" : "it holds " + known),
                        errc::artifact_not_found);
        }
        const std::filesystem::path name_dir = dir_ / name;
        const value aliases = read_aliases(name_dir);
        std::int64_t number = -1;
        if (detail::is_version_text(which)) {
            number = detail::version_number(which);
        } else if (const value* v = aliases.find(which)) {
            number = v->as_int(-1);
        }
        value manifest;
        std::string error;
        if (number < 0 ||
            !detail::read_json_file(manifest_path(name_dir, number), manifest, error)) {
            return fail(
                out,
                "'" + name + ":" + which + "' " +
                    (detail::is_version_text(which) ? "does not exist" : "names no version") +
                    "; " + describe_versions(name_dir, aliases),
                errc::artifact_not_found);
        }
        if (!detail::valid_artifact_manifest(manifest))
            return fail(out,
                        "'" + name + ":" + which + "' (v" + std::to_string(number) +
                            "): its manifest " + manifest_path(name_dir, number).string() +
                            " is damaged",
                        errc::artifact_not_found);
        if (const value* deleted = manifest.find("deleted")) {
            return fail(out,
                        "'" + name + ":" + which + "' (v" + std::to_string(number) +
                            ") was deleted (" + deleted->as_string() + "); " +
                            describe_versions(name_dir, aliases),
                        errc::artifact_not_found);
        }
        out.type = manifest.find("type") ? manifest.find("type")->as_string() : std::string();
        out.dir = name_dir / ("v" + std::to_string(number));
        if (std::string damage = check_files(out.dir, manifest); !damage.empty())
            return fail(out,
                        "'" + name + ":" + which + "' (v" + std::to_string(number) +
                            ") is damaged: " + damage,
                        errc::artifact_not_found);
        for (const auto& [alias, v] : aliases.as_object())
            if (v.as_int(-1) == number) out.aliases.push_back(alias);
        out.version = number;
        out.manifest = std::move(manifest);
        return out;
    }

    /// Artifact names in the store, sorted.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
            const std::string n = entry.path().filename().string();
            if (entry.is_directory(ec) && detail::valid_artifact_name(n)) out.push_back(n);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    /// The committed, not deleted versions of `name`, ascending.
    std::vector<std::int64_t> versions(std::string_view name) const {
        std::vector<std::int64_t> out;
        const std::filesystem::path name_dir = dir_ / std::string(name);
        for (std::int64_t n : manifest_numbers(name_dir)) {
            value manifest;
            std::string ignored;
            if (detail::read_json_file(manifest_path(name_dir, n), manifest, ignored) &&
                !manifest.contains("deleted"))
                out.push_back(n);
        }
        return out;
    }

    /// The manifest of version `version` of `name` (deleted ones included), or null.
    value manifest(std::string_view name, std::int64_t version) const {
        value m;
        std::string ignored;
        if (!detail::read_json_file(manifest_path(dir_ / std::string(name), version), m, ignored))
            return {};
        return m;
    }

    /// {"latest": 4, "best": 2, ...}
    value aliases(std::string_view name) const { return read_aliases(dir_ / std::string(name)); }

    /// Moves `alias` to `version` of `name` (which must exist and not be deleted).
    io_result set_alias(std::string_view name, std::int64_t version, std::string_view alias) const {
        if (!detail::valid_alias(alias))
            return io_result::failure(errc::invalid_artifact,
                                      "alias '" + std::string(alias) + "' is not valid");
        detail::file_lock lock(dir_ / ".lock");
        if (!lock.error().empty())
            return io_result::failure(errc::artifact_store_failed, lock.error());
        const auto live = versions(name);
        if (std::find(live.begin(), live.end(), version) == live.end())
            return io_result::failure(
                errc::artifact_not_found,
                "'" + std::string(name) + ":v" + std::to_string(version) + "' does not exist");
        const std::filesystem::path name_dir = dir_ / std::string(name);
        value current = read_aliases(name_dir);
        current[alias] = version;
        return write_json(name_dir / "aliases.json", current);
    }

    /// Retention: deletes the stored files of every version of `name` that holds no alias and
    /// that `keep(manifest)` rejects. Its manifest stays, marked deleted, so the number is never
    /// reused and use_artifact can say what happened. Files the store was given are never touched
    /// (copies are the store's, hard links and symlinks are only unlinked). Returns the deleted
    /// version numbers; `error` is set if something could not be deleted.
    std::vector<std::int64_t> prune(std::string_view name,
                                    const std::function<bool(const value& manifest)>& keep,
                                    std::string& error) const {
        std::vector<std::int64_t> deleted;
        detail::file_lock lock(dir_ / ".lock");
        if (!lock.error().empty()) return error = lock.error(), deleted;
        const std::filesystem::path name_dir = dir_ / std::string(name);
        const value aliases = read_aliases(name_dir);
        for (std::int64_t n : versions(name)) {
            bool aliased = false;
            for (const auto& member : aliases.as_object()) aliased |= member.second.as_int() == n;
            value manifest;
            std::string ignored;
            if (aliased || !detail::read_json_file(manifest_path(name_dir, n), manifest, ignored) ||
                !detail::valid_artifact_manifest(manifest) || keep(manifest))
                continue;
            // The tombstone first: a crash then leaves files nobody refers to, never a live
            // version with missing files.
            manifest["deleted"] = "retention, " + detail::iso8601_utc(detail::unix_time_now());
            if (io_result r = write_json(manifest_path(name_dir, n), manifest); !r.ok()) {
                error = r.message;
                continue;
            }
            std::error_code ec;
            std::filesystem::remove_all(name_dir / ("v" + std::to_string(n)),
                                        ec);  // never follows symlinks
            if (ec)
                error = "cannot delete '" + (name_dir / ("v" + std::to_string(n))).string() +
                        "': " + ec.message();
            deleted.push_back(n);
        }
        return deleted;
    }

  private:
    struct planned {
        std::filesystem::path source;
        std::string path;
    };

    static artifact_version& fail(artifact_version& v, std::string why,
                                  errc code = errc::invalid_artifact) {
        v.version = -1;
        v.error = std::move(why);
        v.code = code;
        return v;
    }

    static std::filesystem::path manifest_path(const std::filesystem::path& name_dir,
                                               std::int64_t n) {
        return name_dir / ("v" + std::to_string(n) + ".json");
    }

    static io_result write_json(const std::filesystem::path& path, const value& v) {
        io_result r = detail::write_file_atomically(path, v.dump() + "\n", true);
        if (!r.ok()) r.code = errc::artifact_store_failed;
        return r;
    }

    static value read_aliases(const std::filesystem::path& name_dir) {
        value v;
        std::string ignored;
        if (!detail::read_json_file(name_dir / "aliases.json", v, ignored) || !v.is_object())
            return value::object();
        return v;
    }

    /// fsyncs `dir` (and its subdirectories): the names made in it are then durable.
    static std::error_code sync_tree(const std::filesystem::path& dir, bool recursive = true) {
        std::error_code ec;
        if (!detail::sync_directory(dir).ok()) return std::make_error_code(std::errc::io_error);
        if (!recursive) return ec;
        for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
             !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
            if (it->is_directory(ec) && !it->is_symlink(ec) &&
                !detail::sync_directory(it->path()).ok())
                return std::make_error_code(std::errc::io_error);
        return ec;
    }

    /// Numbers N with a vN.json, ascending.
    static std::vector<std::int64_t> manifest_numbers(const std::filesystem::path& name_dir) {
        std::vector<std::int64_t> out;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(name_dir, ec)) {
            const std::string file = entry.path().filename().string();
            if (file.size() > 5 && file.compare(file.size() - 5, 5, ".json") == 0 &&
                detail::is_version_text(std::string_view(file).substr(0, file.size() - 5)))
                out.push_back(
                    detail::version_number(std::string_view(file).substr(0, file.size() - 5)));
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    /// 1 + the highest N of any vN.json or vN/ (an uncommitted vN/ of a crash is skipped, not
    /// reused).
    static std::int64_t next_version(const std::filesystem::path& name_dir) {
        std::int64_t next = 0;
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(name_dir, ec)) {
            std::string file = entry.path().filename().string();
            if (file.size() > 5 && file.compare(file.size() - 5, 5, ".json") == 0)
                file.resize(file.size() - 5);
            if (detail::is_version_text(file))
                next = std::max(next, detail::version_number(file) + 1);
        }
        return next;
    }

    /// "versions v0, v2, v3; aliases latest -> v3, best -> v2" (or what is missing).
    std::string describe_versions(const std::filesystem::path& name_dir,
                                  const value& aliases) const {
        std::string text;
        for (std::int64_t n : versions(name_dir.filename().string()))
            text += (text.empty() ? "versions v" : ", v") + std::to_string(n);
        if (text.empty()) text = "no versions";
        std::string alias_text;
        for (const auto& [alias, v] : aliases.as_object())
            alias_text += (alias_text.empty() ? "; aliases " : ", ") + alias + " -> v" +
                          std::to_string(v.as_int());
        return text + (alias_text.empty() ? "; no aliases" : alias_text);
    }

    /// "" if every entry is there with its size; else what is wrong.
    static std::string check_files(const std::filesystem::path& version_dir,
                                   const value& manifest) {
        for (const auto& entry : manifest.find("entries")->as_array()) {
            const std::string& path = entry.find("path")->as_string();  // a valid manifest
            std::error_code ec;
            const auto size =
                std::filesystem::file_size(version_dir / path, ec);  // follows a reference
            const auto expected = static_cast<std::uintmax_t>(entry.find("size")->as_int());
            const value* storage = entry.find("storage");
            const value* source = entry.find("source");
            const std::string where = storage && source && storage->as_string() == "reference"
                                          ? " (a reference to '" + source->as_string() + "')"
                                          : std::string();
            if (ec) return "entry '" + path + "'" + where + " is missing";
            if (size != expected)
                return "entry '" + path + "'" + where + " has " + std::to_string(size) +
                       " bytes, stored as " + std::to_string(expected) +
                       " (changed since it was logged)";
        }
        return {};
    }

    /// Expands directories into files and checks the entry names; "" or what is wrong.
    static std::string plan_entries(const std::vector<artifact_file>& files,
                                    std::vector<planned>& plan) {
        std::error_code ec;
        for (const auto& f : files) {
            if (std::filesystem::is_directory(f.source, ec)) {
                const std::string prefix = f.name.empty() ? std::string() : f.name + "/";
                for (auto it = std::filesystem::recursive_directory_iterator(f.source, ec);
                     !ec && it != std::filesystem::recursive_directory_iterator();
                     it.increment(ec)) {
                    if (!it->is_regular_file(ec)) continue;
                    plan.push_back(
                        {it->path(),
                         prefix + it->path().lexically_relative(f.source).generic_string()});
                }
                if (ec) return "cannot list '" + f.source.string() + "': " + ec.message();
            } else if (std::filesystem::is_regular_file(f.source, ec)) {
                plan.push_back({f.source, f.name.empty() ? f.source.filename().string() : f.name});
            } else {
                return "'" + f.source.string() + "' is not a file or directory";
            }
        }
        if (plan.empty()) return "no files given";
        std::sort(plan.begin(), plan.end(),
                  [](const planned& a, const planned& b) { return a.path < b.path; });
        for (std::size_t i = 0; i < plan.size(); ++i) {
            if (!detail::valid_entry_path(plan[i].path))
                return "entry name '" + plan[i].path + "' is not a relative path inside it";
            if (i > 0 && plan[i].path == plan[i - 1].path)
                return "two files are named '" + plan[i].path + "' in it ('" +
                       plan[i - 1].source.string() + "' and '" + plan[i].source.string() + "')";
        }
        return {};
    }

    /// Copies, links or references every planned file into `staging`, hashing each once.
    static std::string stage(const std::vector<planned>& plan, const std::filesystem::path& staging,
                             artifact_storage storage, value& entries, std::uint64_t& total) {
        for (const auto& p : plan) {
            std::error_code ec;
            const std::filesystem::path target = staging / p.path;
            std::filesystem::create_directories(target.parent_path(), ec);
            if (ec) return "cannot create '" + target.parent_path().string() + "': " + ec.message();
            const std::filesystem::path source =
                std::filesystem::absolute(p.source, ec).lexically_normal();
            artifact_storage used = storage;
            if (used == artifact_storage::hardlink) {
                std::filesystem::create_hard_link(source, target, ec);
                if (ec) used = artifact_storage::copy;  // another file system: copy instead
            }
            detail::file_digests d;
            const bool copying = used == artifact_storage::copy;
            if (std::string e =
                    detail::hash_file(source, copying ? target : std::filesystem::path(), d);
                !e.empty())
                return e;
            if (used == artifact_storage::reference) {
                std::filesystem::create_symlink(source, target, ec);
                if (ec) return "cannot link '" + target.string() + "': " + ec.message();
            }
            total += d.size;
            entries.push_back({{"path", p.path},
                               {"size", d.size},
                               {"sha256", d.sha256},
                               {"md5", d.md5_base64},
                               {"storage", to_string(used)},
                               {"source", source.string()}});
        }
        return {};
    }

    /// Replaces staged copies whose content the store already keeps as a copy by hard links to
    /// it. Called under the lock.
    void deduplicate(value& entries, const std::filesystem::path& staging) const {
        std::map<std::string, std::filesystem::path> stored;  // sha256 -> a stored copy
        bool indexed = false;
        for (auto& entry : entries.as_array()) {
            if (entry.find("storage")->as_string() != "copy") continue;
            if (!indexed) {
                index_copies(stored);
                indexed = true;
            }
            const auto it = stored.find(entry.find("sha256")->as_string());
            if (it == stored.end()) continue;
            std::error_code ec;
            if (std::filesystem::file_size(it->second, ec) !=
                    static_cast<std::uintmax_t>(entry.find("size")->as_int()) ||
                ec)
                continue;
            const std::filesystem::path target = staging / entry.find("path")->as_string();
            std::filesystem::path temp = target;
            temp += ".link";
            std::filesystem::create_hard_link(it->second, temp, ec);
            if (!ec) std::filesystem::rename(temp, target, ec);
            if (ec) {
                std::filesystem::remove(temp, ec);
                continue;  // keep the staged copy
            }
            entry["deduplicated"] = true;
        }
    }

    void index_copies(std::map<std::string, std::filesystem::path>& stored) const {
        for (const auto& name : names()) {
            const std::filesystem::path name_dir = dir_ / name;
            for (std::int64_t n : manifest_numbers(name_dir)) {
                value manifest;
                std::string ignored;
                if (!detail::read_json_file(manifest_path(name_dir, n), manifest, ignored) ||
                    manifest.contains("deleted"))
                    continue;
                const value* entries = manifest.find("entries");
                if (entries == nullptr) continue;
                for (const auto& entry : entries->as_array()) {
                    const value* storage = entry.find("storage");
                    const value* sha = entry.find("sha256");
                    const value* path = entry.find("path");
                    if (storage && sha && path && storage->as_string() == "copy")
                        stored.emplace(sha->as_string(),
                                       name_dir / ("v" + std::to_string(n)) / path->as_string());
                }
            }
        }
    }

    /// Staging directories this host's dead processes left (a job killed mid-copy).
    void remove_abandoned_staging() const {
#if !defined(_WIN32)
        const std::string prefix = detail::host_name() + "-";
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(dir_ / ".staging", ec)) {
            const std::string file = entry.path().filename().string();
            if (file.rfind(prefix, 0) != 0) continue;
            const long pid = std::strtol(file.c_str() + prefix.size(), nullptr, 10);
            if (pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
                std::filesystem::remove_all(entry.path(), ec);
        }
#endif
    }

    std::filesystem::path dir_;
};

/// The store under `where`: <where>/runlog/artifacts (a run root, settings::dir), else
/// <where>/artifacts (a runlog/ directory), else `where` itself.
inline artifact_store find_artifact_store(const std::filesystem::path& where) {
    std::error_code ec;
    if (std::filesystem::is_directory(where / "runlog" / "artifacts", ec))
        return artifact_store(where / "runlog" / "artifacts");
    if (std::filesystem::is_directory(where / "artifacts", ec))
        return artifact_store(where / "artifacts");
    return artifact_store(where);
}

/// Resolves `ref` ("name:best", "name:v3", "name") in the store under `where` (see
/// find_artifact_store) to a local directory of files, W&B's `use_artifact(...).download()`.
/// Throws runlog::error (artifact_not_found) naming what exists when nothing matches; with
/// exceptions off, returns a version whose `error` says so.
inline artifact_version use_artifact(const std::filesystem::path& where, std::string_view ref) {
    artifact_version v = find_artifact_store(where).resolve(ref);
#if !RUNLOG_NO_EXCEPTIONS
    if (!v.ok()) throw error(v.code, v.error);
#endif
    return v;
}

}  // namespace v0
}  // namespace runlog
