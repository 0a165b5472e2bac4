// SPDX-License-Identifier: MIT
// The compiled part of runlog (RUNLOG_COMPILED_LIB, config.hpp): what the headers only declare in
// that mode, defined once. Built by the CMake target runlog::compiled and the meson dependency
// runlog-compiled, which also define RUNLOG_COMPILED_LIB=1 for the code that links them.
#if !RUNLOG_COMPILED_LIB
#error "src/runlog.cpp is the compiled library: build it with RUNLOG_COMPILED_LIB=1"
#endif
#define RUNLOG_BUILDING_COMPILED_LIB 1

#include <runlog/media/image-inl.hpp>
#include <runlog/run-inl.hpp>
