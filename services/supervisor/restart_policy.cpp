#include "restart_policy.h"

#include <algorithm>

namespace mp::supervisor {

RestartPolicy::RestartPolicy(RestartLimits limits)
    : limits_(limits), next_backoff_(limits.initial_backoff) {}

void RestartPolicy::started(Clock::time_point now) { started_at_ = now; }

std::optional<std::chrono::milliseconds> RestartPolicy::crashed(Clock::time_point now) {
  if (started_at_ && now - *started_at_ >= limits_.healthy_after) {
    next_backoff_ = limits_.initial_backoff;
  }
  started_at_.reset();
  while (!recent_restarts_.empty() && now - recent_restarts_.front() >= limits_.window) {
    recent_restarts_.pop_front();
  }
  if (static_cast<int>(recent_restarts_.size()) + 1 > limits_.max_restarts) return std::nullopt;
  recent_restarts_.push_back(now);
  auto delay = next_backoff_;
  next_backoff_ = std::min(next_backoff_ * 2, limits_.max_backoff);
  return delay;
}

void RestartPolicy::reset() {
  next_backoff_ = limits_.initial_backoff;
  started_at_.reset();
  recent_restarts_.clear();
}

}  // namespace mp::supervisor
