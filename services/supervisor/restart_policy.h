// When to restart a crashed service, and when to give up. Pure: time comes in as arguments,
// so the rules are tested without processes or clocks.
#pragma once

#include <chrono>
#include <deque>
#include <optional>

namespace mp::supervisor {

struct RestartLimits {
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  // A run at least this long counts as healthy: the next crash starts over at initial_backoff.
  std::chrono::milliseconds healthy_after{30000};
  // More than max_restarts restarts within `window` and the service has failed.
  int max_restarts = 5;
  std::chrono::milliseconds window{60000};
};

class RestartPolicy {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RestartPolicy(RestartLimits limits = {});

  // The service was (re)started at `now`.
  void started(Clock::time_point now);
  // The service exited unasked at `now`. Returns how long to wait before starting it again,
  // or nullopt when it restarted too often and the supervisor should give up.
  std::optional<std::chrono::milliseconds> crashed(Clock::time_point now);
  // An operator took over (start/stop/restart): forget the backoff and the restart history.
  void reset();

  const RestartLimits& limits() const { return limits_; }

 private:
  RestartLimits limits_;
  std::chrono::milliseconds next_backoff_;
  std::optional<Clock::time_point> started_at_;
  std::deque<Clock::time_point> recent_restarts_;  // within the window, oldest first
};

}  // namespace mp::supervisor
