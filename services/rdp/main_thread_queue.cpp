#include "main_thread_queue.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace mp::rdp {

MainThreadQueue::MainThreadQueue(mp::bus::Reactor& reactor) : reactor_(reactor) {
  event_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (event_fd_ < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  reactor_.watch_fd(event_fd_, [this] { run_queued(); });
}

MainThreadQueue::~MainThreadQueue() {
  close();
  reactor_.unwatch_fd(event_fd_);
  ::close(event_fd_);
}

bool MainThreadQueue::post(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    tasks_.push_back(std::move(task));
  }
  std::uint64_t one = 1;
  // EAGAIN only when the counter is saturated, and then the main thread is due to wake anyway.
  [[maybe_unused]] auto written = ::write(event_fd_, &one, sizeof(one));
  return true;
}

void MainThreadQueue::close() {
  std::deque<Task> dropped;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    dropped.swap(tasks_);
  }
  // `dropped` is destroyed here, outside the lock.
}

void MainThreadQueue::run_queued() {
  std::uint64_t count = 0;
  [[maybe_unused]] auto read_bytes = ::read(event_fd_, &count, sizeof(count));
  std::deque<Task> batch;
  {
    std::lock_guard lock(mutex_);
    batch.swap(tasks_);
  }
  for (auto& task : batch) task();
}

}  // namespace mp::rdp
