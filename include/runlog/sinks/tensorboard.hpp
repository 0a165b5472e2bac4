// SPDX-License-Identifier: MIT
#pragma once
// The TensorBoard sink: an event file per run that `tensorboard --logdir <dir>/tensorboard` shows,
// written beside the native run directory (tensorboard-format.md).
//
//   <dir>/tensorboard/<name>_<id>/events.out.tfevents.<10-digit seconds>.<host>.<pid>.<n>
//
// First record: file_version "brain.Event:2" with the writer's name. Then one Event per committed
// row holding every numeric value of the row as a float32 scalar (`simple_value`) at the row's
// `_step` and `_timestamp`. Records are TFRecord-framed into a buffer and written whole at flush
// points. So far scalars only: images, histograms, text and hparams are not written yet.
//
// Enable with settings::tensorboard or RUNLOG_SINKS=...,tensorboard.

#include <atomic>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "../detail/os.hpp"
#include "../detail/tensorboard_events.hpp"
#include "../detail/tfrecord.hpp"
#include "../media/media.hpp"
#include "sink.hpp"

namespace runlog {
inline namespace v0 {

class tensorboard_sink final : public base_sink<null_mutex> {
  public:
    ~tensorboard_sink() override {
        if (file_ != nullptr) std::fclose(file_);
    }

    const std::filesystem::path& file_path() const noexcept { return path_; }

  protected:
    io_result start_(const run_info& info) override {
        namespace fs = std::filesystem;
        // One directory per run, named for the run (TensorBoard lists runs by directory).
        std::string run_name = info.name == info.id ? info.id : info.name + "_" + info.id;
        for (char& c : run_name) c = c == '/' ? '_' : c;
        const fs::path dir = info.root_dir / "tensorboard" / detail::safe_media_stem(run_name);
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) {
            return io_result::failure(errc::sink_start_failed,
                                      "cannot create '" + dir.string() + "': " + ec.message());
        }
        static std::atomic<int> writers{0};
        char stamp[16];
        std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(info.start_time));
        path_ = dir / ("events.out.tfevents." + std::string(stamp) + "." + info.host + "." +
                       std::to_string(info.pid) + "." + std::to_string(writers++));
        file_ = std::fopen(path_.string().c_str(), "wbx");
        if (file_ == nullptr) {
            return io_result::failure(
                errc::sink_start_failed,
                "cannot create '" + path_.string() +
                    "': " + std::error_code(errno, std::generic_category()).message());
        }
        std::setvbuf(file_, nullptr, _IONBF, 0);
        append(detail::tensorboard::file_version_event(info.start_time));
        return write_pending();
    }

    io_result event_(const sink_event& e) override {
        if (e.type != sink_event_type::row) return {};
        std::vector<std::pair<std::string_view, float>> scalars;
        for (const auto& [key, v] : e.row->data.as_object()) {
            if (key.empty() || key.front() == '_' || !v.is_number()) continue;
            scalars.emplace_back(key, static_cast<float>(v.as_double()));
        }
        if (scalars.empty()) return {};
        append(detail::tensorboard::scalars_event(e.row->timestamp, e.row->step, scalars));
        return pending_.size() >= 64 * 1024 ? write_pending() : io_result{};
    }

    io_result flush_() override { return write_pending(); }

    io_result finish_(const finish_info&) override {
        io_result r = write_pending();
        if (file_ != nullptr) {
            std::fclose(file_);
            file_ = nullptr;
        }
        return r;
    }

  private:
    void append(const std::vector<std::uint8_t>& event) {
        detail::append_tfrecord(event.data(), event.size(), pending_);
    }

    io_result write_pending() {
        if (pending_.empty() || file_ == nullptr) return {};
        const std::size_t n = std::fwrite(pending_.data(), 1, pending_.size(), file_);
        const int error = errno;
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
        if (pending_.empty()) return {};
        std::clearerr(file_);
        return io_result::failure(errc::sink_write_failed,
                                  "cannot append to '" + path_.string() + "': " +
                                      std::error_code(error, std::generic_category()).message() +
                                      "; kept in memory and retried at the next flush");
    }

    std::filesystem::path path_;
    std::FILE* file_ = nullptr;
    std::vector<std::uint8_t> pending_;
};

}  // namespace v0
}  // namespace runlog
