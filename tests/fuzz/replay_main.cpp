// SPDX-License-Identifier: MIT
// A main() for the fuzz targets in builds without libFuzzer (g++, the plain test builds): runs the
// target once on each file named, or on every file in each directory named. This is how the
// corpus and the inputs of fixed crashes (tests/fuzz/corpus/<target>/) run as regression tests
// in every build.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {
void run_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                  std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}
}  // namespace

int main(int argc, char** argv) {
    std::size_t inputs = 0;
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path arg(argv[i]);
        if (std::filesystem::is_directory(arg)) {
            for (const auto& entry : std::filesystem::directory_iterator(arg)) {
                if (!entry.is_regular_file()) continue;
                run_file(entry.path());
                ++inputs;
            }
        } else {
            run_file(arg);
            ++inputs;
        }
    }
    std::printf("%zu inputs ran without a failure\n", inputs);
    return inputs > 0 ? 0 : 1;
}
