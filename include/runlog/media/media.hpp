// SPDX-License-Identifier: MIT
#pragma once
// What images, tables and other file-backed media have in common: they are logged as a value,
// encoded on the writer thread (never on the caller's), written to the run's media/<kind>/ under
// a name built from the key, the step and the SHA-256 of the bytes, and replaced in history and
// summary by a W&B-shaped JSON description (wandb-offline-format.md §5).
//
// A media object that failed validation carries its error instead of throwing: logging it reports
// the error through the run's handler and drops that field (counted), like any bad field.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../value.hpp"

namespace runlog {
inline namespace v0 {

/// One encoded file and the description that goes with it.
struct media_file {
    std::string kind;       // directory under media/: "images", "table"
    std::string extension;  // ".png", ".jpg", ".table.json"
    std::vector<std::uint8_t> bytes;
    value description;  // W&B fields besides path/sha256/size, e.g. {"_type","format","width",...}
};

/// Something logged as one or more files. Implementations are immutable once built and shared
/// between the caller and the writer thread.
class media_source {
  public:
    virtual ~media_source() = default;
    /// The validation error, or "" when the object is usable.
    virtual const std::string& error() const noexcept = 0;
    /// Memory it holds, counted against settings::media_queue_bytes while it waits for the writer.
    virtual std::size_t size_bytes() const noexcept = 0;
    /// Encodes (writer thread). `write` stores a file and returns the description to embed
    /// (with _type, path, sha256, size); the source returns the final JSON value for the field.
    virtual value encode(std::string_view key, std::int64_t step,
                         const std::function<value(media_file&&)>& write) const = 0;
    /// The W&B `_type` encode() gives ("image-file", "images/separated", "table-file"), so the
    /// dispatcher checks the key's kind before anything is written; "" if it depends.
    virtual const char* value_type() const noexcept { return ""; }
};

/// Base of the media value types (image, image_list, table): a shared, immutable source, so
/// logging one costs a reference count, not a copy of its pixels.
class media {
  public:
    bool ok() const noexcept { return source_ && source_->error().empty(); }
    const std::string& error() const noexcept {
        static const std::string empty_media = "empty media object";
        return source_ ? source_->error() : empty_media;
    }
    const std::shared_ptr<const media_source>& source() const noexcept { return source_; }

  protected:
    std::shared_ptr<const media_source> source_;
};

namespace detail {

/// A file-name stem for `key` that cannot leave the media directory: '/' separates directories
/// (as in W&B), every component keeps only [A-Za-z0-9._-] (others become '_'), "." and ".." and
/// empty components are replaced, Windows device names are prefixed, and the whole stem is at
/// most 120 characters (uniqueness comes from the SHA-256 suffix, not the key).
inline std::string safe_media_stem(std::string_view key) {
    std::vector<std::string> parts;
    std::string current;
    auto finish_part = [&] {
        if (current.empty()) return;
        if (current == ".") current = "_";
        if (current == "..") current = "__";
        std::string upper;
        for (char c : current.substr(0, current.find('.')))
            upper.push_back(static_cast<char>((c >= 'a' && c <= 'z') ? c - 32 : c));
        static const char* const reserved[] = {"CON", "PRN", "AUX", "NUL"};
        bool is_reserved = false;
        for (const char* r : reserved) is_reserved = is_reserved || upper == r;
        if (upper.size() == 4 && (upper.rfind("COM", 0) == 0 || upper.rfind("LPT", 0) == 0) &&
            upper[3] >= '0' && upper[3] <= '9')
            is_reserved = true;
        if (is_reserved) current = "_" + current;
        parts.push_back(current);
        current.clear();
    };
    for (char c : key) {
        if (c == '/') {
            finish_part();
            continue;
        }
        const bool safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        current.push_back(safe ? c : '_');
    }
    finish_part();
    std::string stem;
    for (const auto& part : parts) {
        if (!stem.empty()) stem.push_back('/');
        stem += part;
    }
    if (stem.empty()) stem = "_";
    if (stem.size() > 120) stem.resize(120);
    while (!stem.empty() && (stem.back() == '/' || stem.back() == '.')) stem.back() = '_';
    return stem;
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
