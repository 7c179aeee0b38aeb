#include "bus_bridge.h"

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

namespace mp::dashboard {

BusBridge::BusBridge(mp::bus::Reactor& reactor, std::size_t max_queued)
    : reactor_(reactor), max_queued_(max_queued) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  reactor_.watch_fd(event_fd_, [this] { drain(); });
}

BusBridge::~BusBridge() {
  reactor_.unwatch_fd(event_fd_);
  ::close(event_fd_);
}

bool BusBridge::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (closing() || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  std::uint64_t one = 1;
  // EAGAIN only when the counter is near 2^64: the bus thread is awake anyway.
  [[maybe_unused]] ssize_t written = ::write(event_fd_, &one, sizeof one);
  return true;
}

void BusBridge::close() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    dropped.swap(queue_);
  }
  // Destroyed outside the lock: a dropped task's destructor breaks its caller's promise.
}

void BusBridge::drain() {
  std::uint64_t count = 0;
  [[maybe_unused]] ssize_t got = ::read(event_fd_, &count, sizeof count);
  std::deque<std::function<void()>> tasks;
  {
    std::lock_guard lock(mutex_);
    tasks.swap(queue_);
  }
  for (auto& task : tasks) {
    // Only the dispatch loop catches: one failing request must not end the service.
    try {
      task();
    } catch (const std::exception& e) {
      spdlog::error("a dashboard request failed on the bus thread: {}", e.what());
    }
  }
}

}  // namespace mp::dashboard
