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

#include "../detail/append_file.hpp"
#include "../detail/os.hpp"
#include "../detail/tensorboard_events.hpp"
#include "../detail/tfrecord.hpp"
#include "../media/media.hpp"
#include "sink.hpp"

namespace runlog {
inline namespace v0 {

class tensorboard_sink final : public base_sink<null_mutex> {
  public:
    const std::filesystem::path& file_path() const noexcept { return file_.path(); }

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
        const fs::path path =
            dir / ("events.out.tfevents." + std::string(stamp) + "." + info.host + "." +
                   std::to_string(info.pid) + "." + std::to_string(writers++));
        if (io_result opened = file_.open(path, true); !opened.ok()) return opened;
        append(detail::tensorboard::file_version_event(info.start_time));
        return file_.write();
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
        return file_.buffer().size() >= 64 * 1024 ? file_.write() : io_result{};
    }

    io_result flush_() override { return file_.write(); }

    io_result finish_(const finish_info&) override {
        io_result r = file_.write();
        file_.close();
        return r;
    }

  private:
    void append(const std::vector<std::uint8_t>& event) {
        detail::append_tfrecord(event.data(), event.size(), file_.buffer());
    }

    detail::append_file file_;
};

}  // namespace v0
}  // namespace runlog
