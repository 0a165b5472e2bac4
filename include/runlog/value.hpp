// SPDX-License-Identifier: MIT
#pragma once
// runlog::value — the small JSON-like value used for config, summaries and non-scalar metrics:
// null, bool, int64, double, string, array, object. Objects keep insertion order (config files
// read the way they were written) and look keys up linearly: they are small.
//
// Built with initializer lists, like nlohmann::json: a list whose every element is a two-element
// list starting with a string becomes an object, any other list an array.
//
//     runlog::value config = {{"lr", 1e-3}, {"optimizer", {{"name", "adam"}, {"beta1", 0.9}}}};
//     config.update({{"lr", 3e-4}});          // deep merge
//     auto flat = runlog::flatten(config);    // {"lr", 3e-4}, {"optimizer/name", "adam"}, ...
//
// User types convert through an ADL free function `runlog::value to_value(const T&)` found in T's
// namespace (the nlohmann to_json / fmt format_as idea).

#include <cassert>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "detail/json_writer.hpp"

namespace runlog {
inline namespace v0 {

class value;

namespace detail {
template <class T, class = void>
struct has_adl_to_value : std::false_type {};
template <class T>
struct has_adl_to_value<T, std::void_t<decltype(to_value(std::declval<const T&>()))>>
    : std::true_type {};
}  // namespace detail

class value {
  public:
    using array_type = std::vector<value>;
    using object_type = std::vector<std::pair<std::string, value>>;
    enum class kind { null, boolean, integer, floating, string, array, object };

    value() noexcept {}
    value(std::nullptr_t) noexcept {}
    value(bool b) noexcept : kind_(kind::boolean), b_(b) {}
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>, int> = 0>
    value(T v) noexcept {
        // Unsigned values above INT64_MAX do not fit the int64 JSON integer readers expect; they
        // are kept as the nearest double rather than wrapped to a negative number.
        if constexpr (std::is_unsigned_v<T>) {
            if (static_cast<std::uint64_t>(v) >
                static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                kind_ = kind::floating;
                d_ = static_cast<double>(v);
                return;
            }
        }
        kind_ = kind::integer;
        i_ = static_cast<std::int64_t>(v);
    }
    template <class T, std::enable_if_t<std::is_floating_point_v<T>, int> = 0>
    value(T v) noexcept : kind_(kind::floating), d_(to_double(v)) {}
    value(const char* s) : value(std::string(s ? s : "")) {}
    value(std::string s) noexcept : kind_(kind::string), s_(std::move(s)) {}
    value(std::string_view s) : value(std::string(s)) {}
    value(array_type a) noexcept : kind_(kind::array), a_(std::move(a)) {}
    value(object_type o) noexcept : kind_(kind::object), o_(std::move(o)) {}
    value(std::initializer_list<value> list);

    value(const value& other) { construct_from(other); }
    value(value&& other) noexcept { construct_from(std::move(other)); }
    value& operator=(const value& other) {
        if (this == &other) return *this;
        if (holds_storage()) {
            value copy(other);  // first: `other` may live inside *this
            destroy();
            construct_from(std::move(copy));
        } else {
            construct_from(other);
        }
        return *this;
    }
    value& operator=(value&& other) noexcept {
        if (this == &other) return *this;
        if (holds_storage()) {
            value taken(std::move(other));
            destroy();
            construct_from(std::move(taken));
        } else {
            construct_from(std::move(other));
        }
        return *this;
    }
    ~value() {
        if (holds_storage()) destroy();
    }
    template <class T, std::enable_if_t<detail::has_adl_to_value<T>::value, int> = 0>
    value(const T& v) : value(to_value(v)) {}

    static value array(std::initializer_list<value> items = {}) {
        return value(array_type(items.begin(), items.end()));
    }
    static value object() { return value(object_type{}); }

    kind type() const noexcept { return kind_; }
    bool is_null() const noexcept { return type() == kind::null; }
    bool is_bool() const noexcept { return type() == kind::boolean; }
    bool is_int() const noexcept { return type() == kind::integer; }
    bool is_double() const noexcept { return type() == kind::floating; }
    bool is_number() const noexcept { return is_int() || is_double(); }
    bool is_string() const noexcept { return type() == kind::string; }
    bool is_array() const noexcept { return type() == kind::array; }
    bool is_object() const noexcept { return type() == kind::object; }

    // Accessors take a fallback instead of throwing: values are read on the logging path.
    bool as_bool(bool fallback = false) const noexcept { return is_bool() ? b_ : fallback; }
    std::int64_t as_int(std::int64_t fallback = 0) const noexcept {
        if (is_int()) return i_;
        if (is_double()) return static_cast<std::int64_t>(d_);
        return fallback;
    }
    double as_double(double fallback = 0.0) const noexcept {
        if (is_double()) return d_;
        if (is_int()) return static_cast<double>(i_);
        return fallback;
    }
    const std::string& as_string() const noexcept {
        static const std::string empty;
        return is_string() ? s_ : empty;
    }
    const array_type& as_array() const noexcept {
        static const array_type empty;
        return is_array() ? a_ : empty;
    }
    const object_type& as_object() const noexcept {
        static const object_type empty;
        return is_object() ? o_ : empty;
    }
    /// The array or object itself; only for a value that is one (checked in debug builds).
    array_type& as_array() {
        assert(is_array());
        return a_;
    }
    object_type& as_object() {
        assert(is_object());
        return o_;
    }

    std::size_t size() const noexcept {
        if (is_array()) return as_array().size();
        if (is_object()) return as_object().size();
        return 0;
    }

    /// The member `key` of an object, or nullptr.
    const value* find(std::string_view key) const noexcept {
        for (const auto& member : as_object())
            if (member.first == key) return &member.second;
        return nullptr;
    }
    value* find(std::string_view key) noexcept {
        if (!is_object()) return nullptr;
        for (auto& member : as_object())
            if (member.first == key) return &member.second;
        return nullptr;
    }
    bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

    /// Object member access; a value that is not an object (null, say) becomes an empty object
    /// first, and a missing key is appended.
    value& operator[](std::string_view key) {
        if (!is_object()) {
            const std::string name(key);  // `key` may view this very string
            *this = value(object_type{});
            return (*this)[name];
        }
        if (value* existing = find(key)) return *existing;
        auto& members = as_object();
        members.emplace_back(std::string(key), value());
        return members.back().second;
    }

    /// Appends to an array; a value that is not an array (null, say) becomes an empty one first.
    void push_back(value v) {
        if (!is_array()) *this = value(array_type{});
        as_array().push_back(std::move(v));
    }

    bool erase(std::string_view key) {
        if (!is_object()) return false;
        auto& members = as_object();
        for (auto it = members.begin(); it != members.end(); ++it) {
            if (it->first == key) {
                members.erase(it);
                return true;
            }
        }
        return false;
    }

    /// Deep merge: members of `other` replace ours, except that objects merge recursively.
    /// A non-object `other` replaces the whole value.
    void update(const value& other) {
        if (!is_object() || !other.is_object()) {
            *this = other;
            return;
        }
        for (const auto& [key, v] : other.as_object()) {
            value& mine = (*this)[key];
            if (mine.is_object() && v.is_object()) {
                mine.update(v);
            } else {
                mine = v;
            }
        }
    }

    /// JSON text (see detail/json_writer.hpp for numbers and strings).
    void dump(std::string& out) const {
        switch (type()) {
            case kind::null:
                out.append("null");
                break;
            case kind::boolean:
                out.append(b_ ? "true" : "false");
                break;
            case kind::integer:
                detail::write_json_int(out, i_);
                break;
            case kind::floating:
                detail::write_json_double(out, d_);
                break;
            case kind::string:
                detail::write_json_string(out, s_);
                break;
            case kind::array: {
                out.push_back('[');
                bool first = true;
                for (const auto& item : a_) {
                    if (!first) out.push_back(',');
                    first = false;
                    item.dump(out);
                }
                out.push_back(']');
                break;
            }
            case kind::object: {
                out.push_back('{');
                bool first = true;
                for (const auto& [key, item] : o_) {
                    if (!first) out.push_back(',');
                    first = false;
                    detail::write_json_string(out, key);
                    out.push_back(':');
                    item.dump(out);
                }
                out.push_back('}');
                break;
            }
        }
    }
    std::string dump() const {
        std::string out;
        dump(out);
        return out;
    }

    friend bool operator==(const value& a, const value& b) {
        if (a.kind_ != b.kind_) return false;
        switch (a.kind_) {
            case kind::null:
                return true;
            case kind::boolean:
                return a.b_ == b.b_;
            case kind::integer:
                return a.i_ == b.i_;
            case kind::floating:
                return a.d_ == b.d_;
            case kind::string:
                return a.s_ == b.s_;
            case kind::array:
                return a.a_ == b.a_;
            case kind::object:
                return a.o_ == b.o_;
        }
        return false;
    }
    friend bool operator!=(const value& a, const value& b) { return !(a == b); }

  private:
    /// A string, array or object: memory of its own to free.
    bool holds_storage() const noexcept { return kind_ > kind::floating; }

    template <class T>
    static double to_double(T v) noexcept {
        if constexpr (std::is_same_v<T, float>) {
            return detail::float_to_double(v);
        } else {
            return static_cast<double>(v);
        }
    }

    /// Constructs *this (holding nothing) from `other`: copies from an lvalue, moves from an
    /// rvalue (a member of an rvalue is an rvalue).
    template <class Value>
    void construct_from(Value&& other) {
        switch (other.kind_) {
            case kind::string:
                new (&s_) std::string(std::forward<Value>(other).s_);
                break;
            case kind::array:
                new (&a_) array_type(std::forward<Value>(other).a_);
                break;
            case kind::object:
                new (&o_) object_type(std::forward<Value>(other).o_);
                break;
            case kind::boolean:
                b_ = other.b_;
                break;
            case kind::integer:
                i_ = other.i_;
                break;
            case kind::floating:
                d_ = other.d_;
                break;
            case kind::null:
                break;
        }
        kind_ = other.kind_;
    }

    void destroy() noexcept {
        switch (kind_) {
            case kind::string:
                s_.~basic_string();
                break;
            case kind::array:
                a_.~array_type();
                break;
            case kind::object:
                o_.~object_type();
                break;
            default:
                break;
        }
        kind_ = kind::null;
    }

    // A tagged union rather than std::variant: value is in every translation unit, and
    // instantiating std::variant's visitation was a fifth of the compile time of a TU that logs
    // (clang -ftime-trace).
    kind kind_ = kind::null;
    union {
        std::int64_t i_ = 0;
        bool b_;
        double d_;
        std::string s_;
        array_type a_;
        object_type o_;
    };
};

inline value::value(std::initializer_list<value> list) {
    bool is_object_list = list.size() > 0;
    for (const auto& item : list) {
        if (!item.is_array() || item.as_array().size() != 2 || !item.as_array()[0].is_string()) {
            is_object_list = false;
            break;
        }
    }
    if (!is_object_list) {
        new (&a_) array_type(list.begin(), list.end());
        kind_ = kind::array;
        return;
    }
    new (&o_) object_type();
    kind_ = kind::object;
    o_.reserve(list.size());
    for (const auto& item : list) {
        const auto& pair = item.as_array();
        o_.emplace_back(pair[0].as_string(), pair[1]);
    }
}

namespace detail {

/// Arrays and objects nest at most this deep in anything runlog writes (a scalar is 0 levels, an
/// object of scalars 1), so that every file reads back: its JSON reader stops at 256 levels, and
/// one level is the row or file around the value.
constexpr int max_nesting = 255;

/// True when `v` nests deeper than max_nesting. Iterative: a hostile value cannot exhaust the
/// stack here.
inline bool nested_too_deep(const value& v) {
    if (!v.is_array() && !v.is_object()) return false;
    std::vector<std::pair<const value*, int>> pending{{&v, 1}};
    while (!pending.empty()) {
        const auto [container, level] = pending.back();
        pending.pop_back();
        if (level > max_nesting) return true;
        auto visit = [&, level = level](const value& item) {
            if (item.is_array() || item.is_object()) pending.emplace_back(&item, level + 1);
        };
        if (container->is_array()) {
            for (const auto& item : container->as_array()) visit(item);
        } else {
            for (const auto& member : container->as_object()) visit(member.second);
        }
    }
    return false;
}

}  // namespace detail

/// The `a/b/c` view of nested objects: one entry per leaf (arrays are leaves), in order.
inline void flatten_into(const value& v, const std::string& prefix, char separator,
                         value::object_type& out) {
    if (v.is_object() && v.size() > 0) {
        for (const auto& [key, item] : v.as_object()) {
            flatten_into(item, prefix.empty() ? key : prefix + separator + key, separator, out);
        }
    } else {
        out.emplace_back(prefix, v);
    }
}

inline value::object_type flatten(const value& v, char separator = '/') {
    value::object_type out;
    if (v.is_object()) {
        // An empty object has no leaves (an entry named "" became TensorBoard's hyperparameter
        // "" with the value "{}"); an empty object inside one is a leaf.
        if (v.size() > 0) flatten_into(v, std::string(), separator, out);
    } else {
        out.emplace_back(std::string(), v);
    }
    return out;
}

}  // namespace v0
}  // namespace runlog
