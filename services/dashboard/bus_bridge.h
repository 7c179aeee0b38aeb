// How HTTP handler threads reach the bus. The bus Client and its Reactor are single-threaded, so
// work is queued here and run on the bus thread: the queue is guarded by a mutex, and an eventfd
// the reactor watches wakes the bus thread. A handler waits for the answer with a deadline, so a
// stuck bus costs the browser a clear 504, never a hung request.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>

#include "mp/bus/reactor.h"

namespace mp::dashboard {

enum class BridgeError {
  none,
  busy,       // the queue is full
  timed_out,  // no answer within the deadline
  closed,     // shutting down
  failed,     // the operation threw on the bus thread
};

template <class T>
struct BridgeResult {
  std::optional<T> value;
  BridgeError error = BridgeError::none;
};

class BusBridge {
 public:
  // Watches its eventfd on `reactor`; construct and destroy on the bus thread.
  explicit BusBridge(mp::bus::Reactor& reactor, std::size_t max_queued = 1024);
  ~BusBridge();
  BusBridge(const BusBridge&) = delete;
  BusBridge& operator=(const BusBridge&) = delete;

  // Any thread: runs `task` on the bus thread soon. False when closed or full.
  bool post(std::function<void()> task);

  // Any thread but the bus thread: runs `operation` on the bus thread, which must call the
  // `done` it is given once (later calls are ignored); waits at most `deadline` for that.
  template <class T>
  BridgeResult<T> call(std::function<void(std::function<void(T)> done)> operation,
                       std::chrono::milliseconds deadline);

  // On the bus thread, on the way out: refuses new work, drops what is queued, and makes every
  // waiting call return `closed` within a moment.
  void close();

 private:
  void drain();
  bool closing() const { return closed_.load(); }

  mp::bus::Reactor& reactor_;
  const std::size_t max_queued_;
  int event_fd_ = -1;
  std::mutex mutex_;
  std::deque<std::function<void()>> queue_;
  std::atomic<bool> closed_{false};
};

template <class T>
BridgeResult<T> BusBridge::call(std::function<void(std::function<void(T)> done)> operation,
                                std::chrono::milliseconds deadline) {
  struct Answer {
    std::promise<T> promise;
    std::atomic<bool> given{false};
  };
  auto answer = std::make_shared<Answer>();
  std::future<T> future = answer->promise.get_future();
  bool queued = post([answer, operation = std::move(operation)] {
    try {
      operation([answer](T value) {
        if (!answer->given.exchange(true)) answer->promise.set_value(std::move(value));
      });
    } catch (...) {
      if (!answer->given.exchange(true)) answer->promise.set_exception(std::current_exception());
      throw;  // logged by the bus thread's loop
    }
  });
  if (!queued) return {std::nullopt, closing() ? BridgeError::closed : BridgeError::busy};
  // In slices, so close() needs no list of waiters to wake them.
  auto until = std::chrono::steady_clock::now() + deadline;
  constexpr auto kSlice = std::chrono::milliseconds(100);
  while (true) {
    auto left = until - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) {
      return {std::nullopt, BridgeError::timed_out};
    }
    auto slice = std::min<std::chrono::steady_clock::duration>(left, kSlice);
    if (future.wait_for(slice) == std::future_status::ready) break;
    if (closing()) return {std::nullopt, BridgeError::closed};
  }
  try {
    return {future.get(), BridgeError::none};
  } catch (const std::future_error&) {
    // The task was dropped unrun (close() emptied the queue): its promise broke.
    return {std::nullopt, BridgeError::closed};
  } catch (...) {
    return {std::nullopt, BridgeError::failed};
  }
}

}  // namespace mp::dashboard
