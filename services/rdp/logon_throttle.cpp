#include "logon_throttle.h"

namespace mp::rdp {

void LogonThrottle::forget_old(Clock::time_point now) {
  for (auto it = failures_.begin(); it != failures_.end();) {
    auto& times = it->second;
    while (!times.empty() && now - times.front() >= window_) times.pop_front();
    it = times.empty() ? failures_.erase(it) : std::next(it);
  }
}

bool LogonThrottle::allowed(const std::string& address, Clock::time_point now) {
  auto it = failures_.find(address);
  if (it == failures_.end()) return true;
  auto& times = it->second;
  while (!times.empty() && now - times.front() >= window_) times.pop_front();
  return static_cast<int>(times.size()) < max_failures_;
}

void LogonThrottle::failed(const std::string& address, Clock::time_point now) {
  if (failures_.size() >= kMaxAddresses) forget_old(now);
  if (failures_.size() >= kMaxAddresses && !failures_.count(address)) return;
  auto& times = failures_[address];
  times.push_back(now);
  while (static_cast<int>(times.size()) > max_failures_) times.pop_front();
}

void LogonThrottle::succeeded(const std::string& address) { failures_.erase(address); }

}  // namespace mp::rdp
