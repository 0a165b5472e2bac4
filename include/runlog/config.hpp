// SPDX-License-Identifier: MIT
#pragma once
// Every compile-time switch of runlog, each with its default, in one place. Define a macro before
// including runlog (or on the compiler command line) to change it. Nothing that needs linking is
// switched on by detection: the HTTP sink is enabled only by the build (RUNLOG_WITH_HTTPLIB).

// 1 when the translation unit is built without exceptions (-fno-exceptions). Setup errors then go
// to the error handler and init() returns a disabled run instead of throwing runlog::error.
#ifndef RUNLOG_NO_EXCEPTIONS
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define RUNLOG_NO_EXCEPTIONS 0
#else
#define RUNLOG_NO_EXCEPTIONS 1
#endif
#endif

// Events the queue between the caller threads and the writer thread holds by default
// (settings::queue_capacity overrides it per run). Rounded up to a power of two.
#ifndef RUNLOG_DEFAULT_QUEUE_CAPACITY
#define RUNLOG_DEFAULT_QUEUE_CAPACITY 8192
#endif

// Scalar fields one log() call carries without allocating; wider calls allocate once per call.
#ifndef RUNLOG_INLINE_FIELDS
#define RUNLOG_INLINE_FIELDS 8
#endif

// Error reports passed to the handler per second and run; the rest are counted and summarised.
#ifndef RUNLOG_ERROR_REPORTS_PER_SECOND
#define RUNLOG_ERROR_REPORTS_PER_SECOND 5
#endif

// 0 by default: set by the build (CMake target runlog::http, meson dependency runlog-http) together
// with cpp-httplib's own pkg-config flags. Never guessed with __has_include.
#ifndef RUNLOG_WITH_HTTPLIB
#define RUNLOG_WITH_HTTPLIB 0
#endif

// 0 by default: runlog is header-only. Set to 1 by the build (CMake target runlog::compiled, meson
// dependency runlog-compiled), the headers declare init(), finish(), flush() and the other rare
// calls of a run, and the library compiled from src/runlog.cpp defines them once: a translation
// unit that logs then compiles neither the writer thread, the sinks, the encoders nor the artifact
// store. runlog.hpp then leaves out the tools (export, the artifact store, checkpoint_logger, the
// summary reducer and the concrete sinks): include their own headers where they are used.
#ifndef RUNLOG_COMPILED_LIB
#define RUNLOG_COMPILED_LIB 0
#endif
#if RUNLOG_COMPILED_LIB
#define RUNLOG_INLINE
#else
#define RUNLOG_INLINE inline
#endif

// Not a switch: marks the rare, long branches of hot functions (a key seen for the first time) so
// that the compiler keeps the common path short.
#if defined(__GNUC__)
#define RUNLOG_NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define RUNLOG_NOINLINE __declspec(noinline)
#else
#define RUNLOG_NOINLINE
#endif
