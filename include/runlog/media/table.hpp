// SPDX-License-Identifier: MIT
#pragma once
// runlog::table — named columns and rows of typed cells (number, string, bool, null, image),
// logged as W&B's run-file table: media/table/<key>_<step>_<sha20>.table.json holding
// {"columns": [...], "data": [[...], ...]}, and a {"_type": "table-file", ...} value in history.
// Image cells are written as their own PNG files and appear in the table as image-file objects.
//
//     runlog::table t({"id", "prediction", "label", "input"});
//     t.add_row({17, "cat", "dog", img});
//     run.log({{"samples", t}});          // or run.log_table("samples", t)
//     std::string csv = t.to_csv();      // RFC 4180
//
// A ragged row or a bad column set puts the table in an error state (ok() false, error() says
// which row); logging it reports the error and drops the field. A table may grow after it was
// logged: the logged version is a snapshot (copy on write).

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "image.hpp"
#include "media.hpp"

namespace runlog {
inline namespace v0 {

/// One table cell: a number, string, bool, null or image.
class table_cell {
  public:
    table_cell() = default;
    table_cell(std::nullptr_t) {}
    table_cell(bool b) : v_(b) {}
    template <class T,
              std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>, int> = 0>
    table_cell(T x) : v_(x) {}
    table_cell(const char* s) : v_(s) {}
    table_cell(std::string s) : v_(std::move(s)) {}
    table_cell(const runlog::image& img) : image_(img), is_image_(true) {}

    bool is_image() const noexcept { return is_image_; }
    const value& scalar() const noexcept { return v_; }
    const runlog::image& image() const noexcept { return image_; }

  private:
    value v_;
    runlog::image image_;
    bool is_image_ = false;
};

namespace detail {

inline void append_csv_field(std::string& out, const std::string& text) {
    if (text.find_first_of(",\"\r\n") == std::string::npos) {
        out += text;
        return;
    }
    out.push_back('"');
    for (char c : text) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
}

class table_data final : public media_source {
  public:
    std::vector<std::string> columns_;
    std::vector<std::vector<table_cell>> rows_;
    std::string error_;

    const std::string& error() const noexcept override { return error_; }
    std::size_t size_bytes() const noexcept override {
        std::size_t n = 0;
        for (const auto& row : rows_)
            for (const auto& cell : row)
                n += cell.is_image() && cell.image().source() ? cell.image().source()->size_bytes()
                                                              : sizeof(table_cell);
        return n;
    }

    const char* value_type() const noexcept override { return "table-file"; }
    value encode(std::string_view, std::int64_t,
                 const std::function<value(media_file&&)>& write) const override {
        value columns = value::array();
        for (const auto& c : columns_) columns.push_back(c);
        value data = value::array();
        for (const auto& row : rows_) {
            value cells = value::array();
            for (const auto& cell : row) {
                if (cell.is_image()) {
                    const auto& img = cell.image();
                    cells.push_back(
                        img.ok() ? write(static_cast<const image_data&>(*img.source()).file())
                                 : value());
                } else {
                    cells.push_back(cell.scalar());
                }
            }
            data.push_back(std::move(cells));
        }
        const value content = {{"columns", columns}, {"data", data}};
        media_file f;
        f.kind = "table";
        f.extension = ".table.json";
        const std::string text = content.dump();
        f.bytes.assign(text.begin(), text.end());
        f.description = {{"_type", "table-file"},
                         {"ncols", columns_.size()},
                         {"nrows", rows_.size()},
                         {"log_mode", "IMMUTABLE"}};
        return write(std::move(f));
    }
};

}  // namespace detail

class table : public media {
  public:
    table() : table(std::vector<std::string>{}) {}
    explicit table(std::vector<std::string> columns) {
        auto d = std::make_shared<detail::table_data>();
        if (columns.empty()) d->error_ = "a table needs at least one column";
        for (std::size_t i = 0; i < columns.size() && d->error_.empty(); ++i)
            for (std::size_t k = 0; k < i; ++k)
                if (columns[i] == columns[k])
                    d->error_ = "table column '" + columns[i] + "' appears twice";
        d->columns_ = std::move(columns);
        source_ = std::move(d);
    }

    /// Appends a row; it must have one cell per column.
    table& add_row(std::vector<table_cell> cells) {
        detail::table_data& d = writable();
        if (!d.error_.empty()) return *this;
        if (cells.size() != d.columns_.size()) {
            d.error_ = "table row " + std::to_string(d.rows_.size()) + " has " +
                       std::to_string(cells.size()) + " cells; the table has " +
                       std::to_string(d.columns_.size()) + " columns";
            return *this;
        }
        for (std::size_t c = 0; c < cells.size(); ++c) {
            if (cells[c].is_image() && !cells[c].image().ok()) {
                d.error_ = "table row " + std::to_string(d.rows_.size()) + " column '" +
                           d.columns_[c] + "': " + cells[c].image().error();
                return *this;
            }
        }
        d.rows_.push_back(std::move(cells));
        return *this;
    }

    /// A table from columns of equal length.
    static table from_columns(std::vector<std::string> names,
                              const std::vector<std::vector<table_cell>>& columns) {
        table t(std::move(names));
        detail::table_data& d = t.writable();
        if (!d.error_.empty()) return t;
        if (columns.size() != d.columns_.size()) {
            d.error_ = "table has " + std::to_string(d.columns_.size()) + " column names but " +
                       std::to_string(columns.size()) + " columns of data";
            return t;
        }
        const std::size_t n = columns.front().size();
        for (std::size_t c = 0; c < columns.size(); ++c) {
            if (columns[c].size() != n) {
                d.error_ = "table column '" + d.columns_[c] + "' has " +
                           std::to_string(columns[c].size()) + " cells; column '" + d.columns_[0] +
                           "' has " + std::to_string(n);
                return t;
            }
        }
        for (std::size_t r = 0; r < n && t.ok(); ++r) {
            std::vector<table_cell> row;
            for (const auto& column : columns) row.push_back(column[r]);
            t.add_row(std::move(row));
        }
        return t;
    }

    std::size_t ncols() const noexcept { return data().columns_.size(); }
    std::size_t nrows() const noexcept { return data().rows_.size(); }
    const std::vector<std::string>& columns() const noexcept { return data().columns_; }

    /// RFC 4180 CSV: a header line, then one line per row, CRLF line ends; null is an empty
    /// field, an image its caption (or "image").
    std::string to_csv() const {
        std::string out;
        const auto& d = data();
        for (std::size_t c = 0; c < d.columns_.size(); ++c) {
            if (c > 0) out.push_back(',');
            detail::append_csv_field(out, d.columns_[c]);
        }
        out += "\r\n";
        for (const auto& row : d.rows_) {
            for (std::size_t c = 0; c < row.size(); ++c) {
                if (c > 0) out.push_back(',');
                const table_cell& cell = row[c];
                if (cell.is_image()) {
                    const std::string caption = cell.image().caption();
                    detail::append_csv_field(out, caption.empty() ? "image" : caption);
                } else if (cell.scalar().is_string()) {
                    detail::append_csv_field(out, cell.scalar().as_string());
                } else if (!cell.scalar().is_null()) {
                    out += cell.scalar().dump();
                }
            }
            out += "\r\n";
        }
        return out;
    }

  private:
    const detail::table_data& data() const noexcept {
        return static_cast<const detail::table_data&>(*source_);
    }
    /// Copy on write: a logged snapshot is shared with the writer thread and never changes.
    detail::table_data& writable() {
        if (source_.use_count() > 1) source_ = std::make_shared<detail::table_data>(data());
        return const_cast<detail::table_data&>(data());
    }
};

}  // namespace v0
}  // namespace runlog
