// One event loop per service: ZeroMQ sockets, plain file descriptors, timers and signals.
// ZeroMQ sockets go through zmq_poll as libzmq wants (their readiness is its own, not a plain
// descriptor's); plain descriptors sit in one epoll set that zmq_poll watches as a single
// descriptor, so a wake-up costs the same with 3 or 300 of them. Measured (bench/dashboard, 40
// sessions: three pidfds and a channel each): with every descriptor in zmq_poll, mp-session spent
// most of its time in the kernel's poll over all of them at every wake-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <vector>
#include <zmq.hpp>

namespace mp::bus {

class Reactor {
 public:
  using TimerId = std::uint64_t;
  using Callback = std::function<void()>;

  Reactor();
  ~Reactor();
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;

  void watch_socket(zmq::socket_t& socket, Callback on_readable);
  void unwatch_socket(zmq::socket_t& socket);
  void watch_fd(int fd, Callback on_readable);
  void unwatch_fd(int fd);

  TimerId after(std::chrono::milliseconds delay, Callback callback);
  TimerId every(std::chrono::milliseconds interval, Callback callback);
  void cancel(TimerId id);

  // SIGTERM and SIGINT stop the loop (through a signalfd, so handlers run on the loop).
  void stop_on_signals();

  void run();  // until stop()
  // Runs until stop(), `until` returns true, or the timeout passes; returns whether `until` held.
  bool run_until(const std::function<bool()>& until, std::chrono::milliseconds timeout);
  void stop() { stopping_ = true; }
  bool stopping() const { return stopping_; }

 private:
  struct SocketWatch {
    zmq::socket_t* socket;
    Callback callback;
  };
  struct FdWatch {
    int fd;
    Callback callback;
  };
  struct Timer {
    std::chrono::steady_clock::time_point due;
    std::chrono::milliseconds interval;  // zero: one-shot
    Callback callback;
  };
  void poll_once(std::chrono::milliseconds max_wait);
  void run_ready_fds();
  std::chrono::milliseconds until_next_timer() const;
  void fire_due_timers();

  std::vector<SocketWatch> sockets_;
  std::vector<zmq::pollitem_t> items_;  // the sockets, then the epoll set; rebuilt on changes
  bool sockets_changed_ = true;
  int epoll_fd_ = -1;
  std::map<std::uint64_t, FdWatch>
      fds_;  // by watch id (epoll's data), so a stale event is harmless
  std::map<int, std::uint64_t> fd_ids_;
  std::uint64_t next_fd_watch_ = 1;
  std::map<TimerId, Timer> timers_;
  TimerId next_timer_ = 1;
  int signal_fd_ = -1;
  bool stopping_ = false;
};

}  // namespace mp::bus
