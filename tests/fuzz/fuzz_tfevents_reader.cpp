// SPDX-License-Identifier: MIT
// Fuzz target: the tfevents readers. The tests' and kill harness's
// (support/tfevents_reader.hpp): any bytes give events or a std::runtime_error, never a crash,
// hang or sanitizer report. The library's (detail::read_tfrecords, which a resumed run and
// `runlog finalize` read event files with) agrees on the records of a file the strict reader takes
// whole, and taking the hparams out of any file (events_without_hparams) gives a file of whole
// records again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include <runlog/detail/tensorboard_events.hpp>

#include "../support/tfevents_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string file(reinterpret_cast<const char*>(data), size);
    bool whole = false;
    for (bool torn_tail_ok : {false, true}) {
        try {
            (void)test::read_events(file, torn_tail_ok);
            whole = whole || !torn_tail_ok;
        } catch (const std::runtime_error&) {
        }
    }
    std::size_t records = 0;
    const std::size_t end =
        runlog::detail::read_tfrecords(file, [&](std::string_view, std::size_t) {
            ++records;
            return true;
        });
    if (end > file.size() || (whole && end != file.size())) std::abort();
    const std::string kept = runlog::detail::tensorboard::events_without_hparams(file);
    const std::size_t kept_end =
        runlog::detail::read_tfrecords(kept, [](std::string_view, std::size_t) { return true; });
    if (kept_end != kept.size()) std::abort();
    (void)records;
    return 0;
}
