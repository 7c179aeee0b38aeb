// Hands work from peer threads to the main thread, whose Reactor owns the bus client (no
// Client method is thread-safe). Tasks wait in a mutex-guarded queue; an eventfd watched by
// the Reactor wakes the main thread to run them.
#pragma once

#include <deque>
#include <functional>
#include <mutex>

#include "mp/bus/reactor.h"

namespace mp::rdp {

class MainThreadQueue {
 public:
  using Task = std::function<void()>;
  explicit MainThreadQueue(mp::bus::Reactor& reactor);
  ~MainThreadQueue();
  MainThreadQueue(const MainThreadQueue&) = delete;
  MainThreadQueue& operator=(const MainThreadQueue&) = delete;

  // Any thread. False once closed: the task is dropped (destroyed on this thread).
  bool post(Task task);
  // Main thread: refuse new tasks and drop the queued ones. Dropping a task destroys what it
  // captured, e.g. a promise, so a peer waiting on it wakes at once instead of timing out.
  void close();

 private:
  void run_queued();

  mp::bus::Reactor& reactor_;
  int event_fd_ = -1;
  std::mutex mutex_;
  std::deque<Task> tasks_;
  bool closed_ = false;
};

}  // namespace mp::rdp
