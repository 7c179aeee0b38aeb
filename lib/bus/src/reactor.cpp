#include "mp/bus/reactor.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

namespace mp::bus {

using namespace std::chrono;

Reactor::Reactor() = default;

Reactor::~Reactor() {
  if (signal_fd_ >= 0) close(signal_fd_);
}

void Reactor::watch_socket(zmq::socket_t& socket, Callback on_readable) {
  watches_.push_back(Watch{&socket, -1, std::move(on_readable)});
  watches_changed_ = true;
}

void Reactor::unwatch_socket(zmq::socket_t& socket) {
  std::erase_if(watches_, [&](const Watch& w) { return w.socket == &socket; });
  watches_changed_ = true;
}

void Reactor::watch_fd(int fd, Callback on_readable) {
  watches_.push_back(Watch{nullptr, fd, std::move(on_readable)});
  watches_changed_ = true;
}

void Reactor::unwatch_fd(int fd) {
  std::erase_if(watches_, [&](const Watch& w) { return w.socket == nullptr && w.fd == fd; });
  watches_changed_ = true;
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
  if (watches_changed_) {
    items_.clear();
    for (const auto& w : watches_) {
      items_.push_back(
          zmq::pollitem_t{w.socket ? w.socket->handle() : nullptr, w.fd, ZMQ_POLLIN, 0});
    }
    watches_changed_ = false;
  }
  auto wait = std::min(until_next_timer(), max_wait);
  zmq::poll(items_.data(), items_.size(), wait);
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (!(items_[i].revents & ZMQ_POLLIN)) continue;
    // A callback may remove its own watch: run a copy. If the watches changed, stop here; polling
    // is level-triggered, so whatever else was ready is seen on the next round.
    Callback callback = watches_[i].callback;
    callback();
    if (stopping_ || watches_changed_) break;
  }
  if (!stopping_) fire_due_timers();
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
