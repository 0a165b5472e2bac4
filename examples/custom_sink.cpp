// SPDX-License-Identifier: MIT
// A user-defined sink: prints every committed row as CSV on stdout. One file, one override.
// Sinks see finished rows (step rules applied, _step/_runtime/_timestamp added).
#include <runlog/runlog.hpp>

#include <cstdio>
#include <memory>

class csv_sink final : public runlog::base_sink<runlog::null_mutex> {
  protected:
    runlog::io_result event_(const runlog::sink_event& e) override {
        if (e.type != runlog::sink_event_type::row) return {};
        const runlog::value* loss = e.row->data.find("loss");
        std::printf("%lld,%s\n", static_cast<long long>(e.row->step),
                    loss ? loss->dump().c_str() : "");
        return {};
    }
};

int main() {
    auto run = runlog::init(runlog::settings{}
                                .with_project("custom-sink")
                                .with_native_files(false)  // only our sink
                                .with_sink(std::make_shared<csv_sink>())
                                .with_quiet(true));
    std::puts("step,loss");
    for (int step = 0; step < 5; ++step) run.log({{"loss", 1.0 / (step + 1)}});
    run.finish();
}
