// SPDX-License-Identifier: MIT
#pragma once
// Interned metric keys. log() looks each key up here on the caller's thread: the lookup reads an
// open-addressing table through atomic pointers and takes no lock; only a key seen for the first
// time takes the mutex, is validated once, and is published. Entries never move or die before the
// table does, so events carry `const key_entry*` and the writer reads names without copying them.
// Growing builds a new, larger table and publishes it; old tables stay alive until destruction so
// a reader still probing one is never left with a dangling pointer.

#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"
#include "json_writer.hpp"

namespace runlog {
inline namespace v0 {

struct metric_definition;

namespace detail {

enum class key_status : std::uint8_t { ok, reserved, empty, invalid_utf8 };

struct key_entry {
    std::string name;
    std::uint64_t hash = 0;
    key_status status = key_status::ok;

    // The writer's caches, so a row costs no string lookups: read and written only by the run's
    // dispatcher (callers read the fields above), so they are separate memory locations and race
    // with nothing. `definition` is valid while `definition_generation` matches the dispatcher's.
    static constexpr std::size_t no_slot = ~std::size_t{0};
    mutable std::size_t summary_slot = no_slot;
    mutable const metric_definition* definition = nullptr;
    mutable std::uint64_t definition_generation = 0;
    // The last float logged under this key and its shortest-round-trip double (a learning rate
    // is the same float for thousands of rows; the conversion costs a to_chars/from_chars pair).
    // Bits 0 are +0.0f, whose double is 0.0: the initial entry is already correct.
    mutable std::uint32_t last_float_bits = 0;
    mutable double last_float_as_double = 0.0;
};

/// Why the writer drops a field with this key (its status is not ok), as the report says it.
inline std::pair<errc, std::string> why_rejected(const key_entry& key) {
    switch (key.status) {
        case key_status::reserved:
            return {
                errc::reserved_key,
                "key '" + key.name + "' dropped: keys starting with '_' are reserved for runlog"};
        case key_status::empty:
            return {errc::invalid_key, "a field with an empty key was dropped"};
        case key_status::invalid_utf8:
        case key_status::ok:
            break;
    }
    std::string shown;
    write_json_string(shown, key.name);
    return {errc::invalid_key, "key " + shown + " dropped: keys must be valid UTF-8"};
}

// The caller pays for hashing and comparing every key of every log() call, so both read 8 bytes
// at a time (byte-wise FNV-1a and a memcmp call were 60% of a 4-key call under callgrind). The
// hash lives only in memory: nothing stored depends on it.
inline std::uint64_t load_word(const char* p) noexcept {
    std::uint64_t w;
    std::memcpy(&w, p, sizeof w);
    return w;
}

/// The n (1..8) bytes at p as one word, from at most two overlapping loads. Not the bytes' value
/// (some are read twice), but a function of them and n alone, which is all hashing and comparing
/// strings of equal length need.
inline std::uint64_t load_short(const char* p, std::size_t n) noexcept {
    if (n >= 4) {
        std::uint32_t lo, hi;
        std::memcpy(&lo, p, 4);
        std::memcpy(&hi, p + n - 4, 4);
        return lo | std::uint64_t{hi} << 32;
    }
    return std::uint64_t{static_cast<unsigned char>(p[0])} |
           std::uint64_t{static_cast<unsigned char>(p[n / 2])} << 8 |
           std::uint64_t{static_cast<unsigned char>(p[n - 1])} << 16;
}

// Strings longer than 8 bytes are read as whole words, then their last 8 bytes (overlapping the
// previous word); shorter ones through load_short.
inline std::uint64_t hash_key(std::string_view s) noexcept {
    constexpr std::uint64_t multiplier = 0x9E3779B97F4A7C15ull;
    const char* p = s.data();
    const std::size_t n = s.size();
    std::uint64_t h = n * multiplier;
    const auto mix = [&h](std::uint64_t w) {
        h = (h ^ w) * multiplier;
        h ^= h >> 29;
    };
    if (n > 8) {
        for (std::size_t i = 0; i + 8 < n; i += 8) mix(load_word(p + i));
        mix(load_word(p + n - 8));
    } else if (n > 0) {
        mix(load_short(p, n));
    }
    return h ^ (h >> 32);
}

inline bool same_key(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size();
    if (n != b.size()) return false;
    if (n <= 8) return n == 0 || load_short(a.data(), n) == load_short(b.data(), n);
    for (std::size_t i = 0; i + 8 < n; i += 8)
        if (load_word(a.data() + i) != load_word(b.data() + i)) return false;
    return load_word(a.data() + n - 8) == load_word(b.data() + n - 8);
}

inline key_status classify_key(std::string_view key) noexcept {
    if (key.empty()) return key_status::empty;
    if (key.front() == '_') return key_status::reserved;
    if (!is_valid_utf8(key)) return key_status::invalid_utf8;
    return key_status::ok;
}

class key_table {
  public:
    key_table() { publish_new_table(64); }
    key_table(const key_table&) = delete;
    key_table& operator=(const key_table&) = delete;

    /// Never returns nullptr (allocation failure aside).
    const key_entry* intern(std::string_view key) { return intern(key, hash_key(key)); }

    /// With the key's hash_key() already known.
    const key_entry* intern(std::string_view key, std::uint64_t h) {
        if (const key_entry* e = find_in(*current_.load(std::memory_order_acquire), key, h))
            return e;
        return add(key, h);
    }

    std::size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return entries_.size();
    }

  private:
    struct table {
        explicit table(std::size_t n) : slots(new std::atomic<const key_entry*>[n]), count(n) {
            for (std::size_t i = 0; i < n; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
        }
        std::size_t size() const noexcept { return count; }
        std::unique_ptr<std::atomic<const key_entry*>[]> slots;
        std::size_t count;
    };

    // Kept out of line so that intern(), which runs for every field of every log() call, stays a
    // few instructions long with nothing to save and restore.
    RUNLOG_NOINLINE const key_entry* add(std::string_view key, std::uint64_t h) {
        std::lock_guard<std::mutex> lock(mutex_);
        const table& t = *current_.load(std::memory_order_acquire);
        if (const key_entry* e = find_in(t, key, h)) return e;
        entries_.push_back(key_entry{std::string(key), h, classify_key(key)});
        const key_entry* e = &entries_.back();
        if ((entries_.size() + 1) * 2 > t.size()) {
            publish_new_table(t.size() * 2);  // rehashes every entry, the new one included
        } else {
            insert_into(t, e);
        }
        return e;
    }

    static const key_entry* find_in(const table& t, std::string_view key,
                                    std::uint64_t h) noexcept {
        const std::size_t mask = t.size() - 1;
        for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
            const key_entry* e = t.slots[i].load(std::memory_order_acquire);
            if (e == nullptr) return nullptr;
            if (e->hash == h && same_key(e->name, key)) return e;
        }
    }

    static void insert_into(const table& t, const key_entry* e) noexcept {
        const std::size_t mask = t.size() - 1;
        std::size_t i = static_cast<std::size_t>(e->hash) & mask;
        while (t.slots[i].load(std::memory_order_relaxed) != nullptr) i = (i + 1) & mask;
        t.slots[i].store(e, std::memory_order_release);
    }

    void publish_new_table(std::size_t n) {
        tables_.push_back(std::make_unique<table>(n));
        const table& t = *tables_.back();
        for (const key_entry& e : entries_) insert_into(t, &e);
        current_.store(&t, std::memory_order_release);
    }

    mutable std::mutex mutex_;
    std::deque<key_entry> entries_;  // deque: push_back never moves existing entries
    std::vector<std::unique_ptr<table>> tables_;
    std::atomic<const table*> current_{nullptr};
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
