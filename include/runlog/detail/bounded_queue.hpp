// SPDX-License-Identifier: MIT
#pragma once
// A fixed-capacity multi-producer queue (Dmitry Vyukov's bounded MPMC design): every cell carries
// a sequence number that says whose turn it is, so producers claim a cell with one CAS and never
// take a lock or make a system call. The writer thread is the only consumer. Capacity is rounded
// up to a power of two. try_push leaves its argument untouched when the queue is full, so the
// caller decides what "full" means (block, drop, count).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

namespace runlog {
inline namespace v0 {
namespace detail {

inline std::size_t round_up_to_power_of_two(std::size_t n) noexcept {
    std::size_t p = 2;
    while (p < n) p <<= 1u;
    return p;
}

template <class T>
class bounded_queue {
  public:
    explicit bounded_queue(std::size_t capacity)
        : mask_(round_up_to_power_of_two(capacity) - 1), cells_(new cell[mask_ + 1]) {
        for (std::size_t i = 0; i <= mask_; ++i)
            cells_[i].sequence.store(i, std::memory_order_relaxed);
    }
    bounded_queue(const bounded_queue&) = delete;
    bounded_queue& operator=(const bounded_queue&) = delete;

    std::size_t capacity() const noexcept { return mask_ + 1; }

    /// Moves `item` in and returns true, or returns false (item untouched) when full.
    bool try_push(T& item) noexcept {
        std::size_t pos = enqueue_pos_.load(std::memory_order_relaxed);
        cell* c;
        for (;;) {
            c = &cells_[pos & mask_];
            const std::size_t seq = c->sequence.load(std::memory_order_acquire);
            const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos);
            if (diff == 0) {
                if (enqueue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed))
                    break;
            } else if (diff < 0) {
                return false;
            } else {
                pos = enqueue_pos_.load(std::memory_order_relaxed);
            }
        }
        c->item = std::move(item);
        c->sequence.store(pos + 1, std::memory_order_release);
        return true;
    }

    bool try_pop(T& out) noexcept {
        std::size_t pos = dequeue_pos_.load(std::memory_order_relaxed);
        cell* c;
        for (;;) {
            c = &cells_[pos & mask_];
            const std::size_t seq = c->sequence.load(std::memory_order_acquire);
            const auto diff = static_cast<std::intptr_t>(seq) - static_cast<std::intptr_t>(pos + 1);
            if (diff == 0) {
                if (dequeue_pos_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed))
                    break;
            } else if (diff < 0) {
                return false;
            } else {
                pos = dequeue_pos_.load(std::memory_order_relaxed);
            }
        }
        out = std::move(c->item);
        c->sequence.store(pos + mask_ + 1, std::memory_order_release);
        return true;
    }

    /// Items in the queue; exact only when no push or pop is under way.
    std::size_t size_approx() const noexcept {
        const std::size_t tail = enqueue_pos_.load(std::memory_order_relaxed);
        const std::size_t head = dequeue_pos_.load(std::memory_order_relaxed);
        return tail >= head ? tail - head : 0;
    }

  private:
    struct cell {
        std::atomic<std::size_t> sequence{0};
        T item{};
    };

    const std::size_t mask_;
    std::unique_ptr<cell[]> cells_;
    alignas(64) std::atomic<std::size_t> enqueue_pos_{0};
    alignas(64) std::atomic<std::size_t> dequeue_pos_{0};
};

}  // namespace detail
}  // namespace v0
}  // namespace runlog
