#include "mp/bus/reactor.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace mp::bus {

using namespace std::chrono;

Reactor::Reactor() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

Reactor::~Reactor() {
  if (signal_fd_ >= 0) close(signal_fd_);
  close(epoll_fd_);
}

void Reactor::watch_socket(zmq::socket_t& socket, Callback on_readable) {
  sockets_.push_back(SocketWatch{&socket, std::move(on_readable)});
  sockets_changed_ = true;
}

void Reactor::unwatch_socket(zmq::socket_t& socket) {
  std::erase_if(sockets_, [&](const SocketWatch& w) { return w.socket == &socket; });
  sockets_changed_ = true;
}

void Reactor::watch_fd(int fd, Callback on_readable) {
  // A number still registered belongs to a descriptor closed without unwatch_fd: this is a new
  // one that got the same number.
  if (fd_ids_.contains(fd)) unwatch_fd(fd);
  std::uint64_t id = next_fd_watch_++;
  epoll_event event{};
  event.events = EPOLLIN;  // level-triggered, as poll is
  event.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
    throw std::system_error(errno, std::generic_category(),
                            "cannot watch descriptor " + std::to_string(fd));
  }
  fds_[id] = FdWatch{fd, std::move(on_readable)};
  fd_ids_[fd] = id;
}

void Reactor::unwatch_fd(int fd) {
  auto it = fd_ids_.find(fd);
  if (it == fd_ids_.end()) return;
  // Fails harmlessly if the descriptor was closed already (the kernel dropped it then).
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  fds_.erase(it->second);
  fd_ids_.erase(it);
}

Reactor::TimerId Reactor::after(milliseconds delay, Callback callback) {
  TimerId id = next_timer_++;
  timers_[id] = Timer{steady_clock::now() + delay, milliseconds(0), std::move(callback)};
  return id;
}

Reactor::TimerId Reactor::every(milliseconds interval, Callback callback) {
  TimerId id = next_timer_++;
  timers_[id] = Timer{steady_clock::now() + interval, interval, std::move(callback)};
  return id;
}

void Reactor::cancel(TimerId id) { timers_.erase(id); }

void Reactor::stop_on_signals() {
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  if (pthread_sigmask(SIG_BLOCK, &mask, nullptr) != 0) throw std::runtime_error("sigmask");
  signal_fd_ = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (signal_fd_ < 0) throw std::runtime_error("signalfd");
  watch_fd(signal_fd_, [this] {
    signalfd_siginfo info;
    while (read(signal_fd_, &info, sizeof info) == sizeof info) {
    }
    stop();
  });
}

milliseconds Reactor::until_next_timer() const {
  if (timers_.empty()) return milliseconds(1000);
  auto next = std::min_element(timers_.begin(), timers_.end(), [](const auto& a, const auto& b) {
                return a.second.due < b.second.due;
              })->second.due;
  auto wait = duration_cast<milliseconds>(next - steady_clock::now()) + milliseconds(1);
  return std::clamp(wait, milliseconds(0), milliseconds(1000));
}

void Reactor::fire_due_timers() {
  auto now = steady_clock::now();
  std::vector<TimerId> due;
  for (const auto& [id, timer] : timers_) {
    if (timer.due <= now) due.push_back(id);
  }
  for (TimerId id : due) {
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled by an earlier callback
    Callback callback = it->second.callback;
    if (it->second.interval.count() > 0) {
      it->second.due = now + it->second.interval;
    } else {
      timers_.erase(it);
    }
    callback();
    if (stopping_) return;
  }
}

void Reactor::poll_once(milliseconds max_wait) {
  if (sockets_changed_) {
    items_.clear();
    for (const auto& w : sockets_)
      items_.push_back(zmq::pollitem_t{w.socket->handle(), 0, ZMQ_POLLIN, 0});
    items_.push_back(zmq::pollitem_t{nullptr, epoll_fd_, ZMQ_POLLIN, 0});
    sockets_changed_ = false;
  }
  auto wait = std::min(until_next_timer(), max_wait);
  zmq::poll(items_.data(), items_.size(), wait);
  bool fds_ready = items_.back().revents & ZMQ_POLLIN;
  for (std::size_t i = 0; i + 1 < items_.size(); ++i) {
    if (!(items_[i].revents & ZMQ_POLLIN)) continue;
    // A callback may remove its own watch: run a copy. If the sockets changed, stop here;
    // polling is level-triggered, so whatever else was ready is seen on the next round.
    Callback callback = sockets_[i].callback;
    callback();
    if (stopping_ || sockets_changed_) break;
  }
  if (fds_ready && !stopping_) run_ready_fds();
  if (!stopping_) fire_due_timers();
}

void Reactor::run_ready_fds() {
  std::array<epoll_event, 64> ready{};
  // Level-triggered: more than 64 ready ones are seen on the next round.
  int n = epoll_wait(epoll_fd_, ready.data(), static_cast<int>(ready.size()), 0);
  for (int i = 0; i < n; ++i) {
    auto it = fds_.find(ready[i].data.u64);
    if (it == fds_.end()) continue;  // unwatched by an earlier callback of this round
    Callback callback = it->second.callback;
    callback();
    if (stopping_) return;
  }
}

void Reactor::run() {
  stopping_ = false;
  while (!stopping_) poll_once(milliseconds(1000));
}

bool Reactor::run_until(const std::function<bool()>& until, milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  while (!stopping_) {
    if (until()) return true;
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return until();
    poll_once(std::min(left, milliseconds(50)));
  }
  return until();
}

}  // namespace mp::bus
