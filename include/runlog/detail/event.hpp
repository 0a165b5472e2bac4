// SPDX-License-Identifier: MIT
#pragma once
// What travels through the queue from log() and friends to the writer thread. A row event holds
// up to RUNLOG_INLINE_FIELDS scalar fields inline, so the common log() call moves one fixed-size
// object and allocates nothing; strings, nested values, wide rows and control events (config,
// define_metric, summary_set) carry a heap payload.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../media/media.hpp"
#include "../metric.hpp"
#include "../value.hpp"
#include "key_table.hpp"

namespace runlog {
inline namespace v0 {
namespace detail {

static_assert(RUNLOG_INLINE_FIELDS >= 1 && RUNLOG_INLINE_FIELDS <= 255,
              "RUNLOG_INLINE_FIELDS must be between 1 and 255");

enum class event_kind : std::uint8_t {
    row,
    config,
    define_metric,
    summary_set,
    flush,
    system,
    console,
    artifact,
    signal,  // payload->stream: the signal number (run_state::mark_signal)
    rewind   // step: the last step to keep (run::rewind_to_step)
};
// float32 is kept apart so the writer can print it as the float the user logged (0.1f -> 0.1).
// invalid: a field rejected on the caller's thread (a bad image, say); complex[index] holds why.
enum class item_kind : std::uint8_t {
    integer,
    floating,
    float32,
    boolean,
    complex,
    media,
    invalid
};

struct field_item {
    const key_entry* key;
    item_kind kind;
    union {
        std::int64_t i;
        double d;
        float f;
        bool b;
        std::uint32_t complex_index;  // into event_payload::complex or ::media
    };
};

struct event_payload {
    std::vector<field_item> items;                           // fields beyond the inline ones
    std::vector<value> complex;                              // non-scalar field values
    std::vector<std::shared_ptr<const media_source>> media;  // images, tables
    std::size_t media_bytes = 0;  // their size_bytes(), reserved against the media budget
    value data;  // config (whole, merged), summary_set value, system sample, artifact manifest
    metric_definition definition;
    bool overwrite = false;  // define_metric(..., overwrite)
    std::string key;         // summary_set key; console: the text; artifact: its directory
    int stream = 0;          // console: 1 stdout, 2 stderr; artifact: 1 if used, 0 if logged
    std::vector<std::string> aliases;  // artifact
};

struct event {
    event_kind kind = event_kind::row;
    std::uint8_t inline_count = 0;
    bool has_step = false;
    std::int8_t commit = -1;  // -1: default (commit unless a step is given), 0: no, 1: yes
    std::int64_t step = 0;
    double time = 0.0;                       // Unix seconds at the call
    std::uint64_t ticket = 0;                // flush
    field_item items[RUNLOG_INLINE_FIELDS];  // the first inline_count are set
    std::unique_ptr<event_payload> payload;

    event() = default;
    event(event&& other) noexcept { *this = std::move(other); }
    /// Moves only the inline items in use: an event goes through the queue by two moves, and the
    /// rest of the array is never read (nor, then, copied uninitialised).
    event& operator=(event&& other) noexcept {
        kind = other.kind;
        inline_count = other.inline_count;
        has_step = other.has_step;
        commit = other.commit;
        step = other.step;
        time = other.time;
        ticket = other.ticket;
        for (std::uint8_t i = 0; i < inline_count; ++i) items[i] = other.items[i];
        payload = std::move(other.payload);
        return *this;
    }

    event_payload& ensure_payload() {
        if (!payload) payload = std::make_unique<event_payload>();
        return *payload;
    }

    void add_item(const field_item& item) {
        if (inline_count < RUNLOG_INLINE_FIELDS) {
            items[inline_count++] = item;
        } else {
            ensure_payload().items.push_back(item);
        }
    }

    void add_complex(const key_entry* key, value v) {
        auto& p = ensure_payload();
        field_item item{};
        item.key = key;
        item.kind = item_kind::complex;
        item.complex_index = static_cast<std::uint32_t>(p.complex.size());
        p.complex.push_back(std::move(v));
        add_item(item);
    }

    void add_invalid(const key_entry* key, std::string reason) {
        add_complex(key, value(std::move(reason)));
        if (payload->items.empty()) {
            items[inline_count - 1].kind = item_kind::invalid;
        } else {
            payload->items.back().kind = item_kind::invalid;
        }
    }

    void add_media(const key_entry* key, std::shared_ptr<const media_source> source) {
        auto& p = ensure_payload();
        field_item item{};
        item.key = key;
        item.kind = item_kind::media;
        item.complex_index = static_cast<std::uint32_t>(p.media.size());
        p.media_bytes += source->size_bytes();
        p.media.push_back(std::move(source));
        add_item(item);
    }

    template <class F>
    void for_each_item(F&& f) const {
        for (std::uint8_t i = 0; i < inline_count; ++i) f(items[i]);
        if (payload)
            for (const auto& item : payload->items) f(item);
    }

    value item_value(const field_item& item) const {
        switch (item.kind) {
            case item_kind::integer:
                return item.i;
            case item_kind::floating:
                return item.d;
            case item_kind::float32:
                return item.f;
            case item_kind::boolean:
                return item.b;
            case item_kind::complex:
                return payload->complex[item.complex_index];
            case item_kind::media:
            case item_kind::invalid:
                break;  // handled by the dispatcher
        }
        return {};
    }
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
