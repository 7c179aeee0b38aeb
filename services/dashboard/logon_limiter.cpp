#include "logon_limiter.h"

#include <algorithm>
#include <iterator>

namespace mp::dashboard {

std::optional<std::chrono::seconds> LogonLimiter::begin(const std::string& address,
                                                        Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(address);
  if (it == failures_.end()) {
    make_room(now);
    it = failures_.emplace(address, std::deque<Clock::time_point>{}).first;
  }
  auto& failures = it->second;
  forget_old(failures, now);
  if (static_cast<int>(failures.size()) >= options_.max_failures) {
    auto wait = failures.front() + options_.window - now;
    auto seconds = std::chrono::ceil<std::chrono::seconds>(wait);
    return std::max(seconds, std::chrono::seconds(1));
  }
  failures.push_back(now);
  return std::nullopt;
}

void LogonLimiter::not_a_failure(const std::string& address, Clock::time_point started) {
  std::lock_guard lock(mutex_);
  auto it = failures_.find(address);
  if (it == failures_.end()) return;
  auto& failures = it->second;
  auto found = std::find(failures.begin(), failures.end(), started);
  if (found != failures.end()) failures.erase(found);
  if (failures.empty()) failures_.erase(it);
}

void LogonLimiter::forget_old(std::deque<Clock::time_point>& failures,
                              Clock::time_point now) const {
  while (!failures.empty() && now - failures.front() >= options_.window) failures.pop_front();
}

void LogonLimiter::make_room(Clock::time_point now) {
  if (failures_.size() < options_.max_tracked) return;
  for (auto it = failures_.begin(); it != failures_.end();) {
    forget_old(it->second, now);
    it = it->second.empty() ? failures_.erase(it) : std::next(it);
  }
  // Still full: every tracked address failed recently. Dropping the one whose last failure is
  // oldest frees it soonest anyway.
  while (failures_.size() >= options_.max_tracked) {
    auto oldest = std::min_element(
        failures_.begin(), failures_.end(),
        [](const auto& a, const auto& b) { return a.second.back() < b.second.back(); });
    failures_.erase(oldest);
  }
}

}  // namespace mp::dashboard
