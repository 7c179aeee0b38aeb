// A token bucket: at most `burst` at once, refilled at `per_second`. What the agent channel
// allows a session's agent (which runs as the student, so may be anything) to send.
#pragma once

#include <algorithm>
#include <chrono>

namespace mp::session {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double per_second, double burst)
      : per_second_(per_second), burst_(burst), tokens_(burst) {}

  // Takes `cost` tokens if there are that many; false (and nothing taken) otherwise.
  bool take(double cost, Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + std::max(elapsed, 0.0) * per_second_);
    }
    last_ = now;
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
  }

 private:
  double per_second_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
};

}  // namespace mp::session
