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
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

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

inline std::uint64_t hash_key(std::string_view s) noexcept {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h;
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
    const key_entry* intern(std::string_view key) {
        const std::uint64_t h = hash_key(key);
        if (const key_entry* e = find_in(*current_.load(std::memory_order_acquire), key, h))
            return e;
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

    static const key_entry* find_in(const table& t, std::string_view key,
                                    std::uint64_t h) noexcept {
        const std::size_t mask = t.size() - 1;
        for (std::size_t i = static_cast<std::size_t>(h) & mask;; i = (i + 1) & mask) {
            const key_entry* e = t.slots[i].load(std::memory_order_acquire);
            if (e == nullptr) return nullptr;
            if (e->hash == h && e->name == key) return e;
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
