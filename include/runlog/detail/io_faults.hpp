// SPDX-License-Identifier: MIT
#pragma once
// A test seam for failing disks: when a test sets io_fault_hook, every file operation the sinks
// make (appending to a stream, writing a snapshot or media file, fsync, rename, creating a
// directory) asks it first, and a fault it returns makes that operation fail with its errno
// (ENOSPC, EDQUOT, EIO, ...) as the OS would; an append may first write part of its bytes, as a
// disk filling up does. Unset (the default), it costs one relaxed load per operation.
// tests/test_disk_faults.cpp uses it; the same test also fills a real tmpfs where it may mount one.

#include <atomic>
#include <cstddef>
#include <limits>

namespace runlog {
inline namespace v0 {
namespace detail {

enum class io_op { append, write_file, fsync, rename, mkdir };

struct io_fault {
    int error = 0;                  // 0: no fault
    std::size_t partial_bytes = 0;  // io_op::append: bytes written before the failure
};

using io_fault_function = io_fault (*)(io_op op, const char* path);
inline std::atomic<io_fault_function> io_fault_hook{nullptr};

/// The fault to inject for `op` on `path`, if a test asks for one.
inline io_fault injected_fault(io_op op, const char* path) noexcept {
    const io_fault_function hook = io_fault_hook.load(std::memory_order_relaxed);
    return hook != nullptr ? hook(op, path) : io_fault{};
}

}  // namespace detail
}  // namespace v0
}  // namespace runlog
