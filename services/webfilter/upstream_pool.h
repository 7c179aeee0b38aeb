// Idle upstream connections kept for reuse, per destination ("host:port"): the most recently
// used is taken first (the least likely to have been closed by the origin), at most
// `max_per_destination` per destination and `max_idle` in all. The pool only files connections;
// its owner closes what does not fit and what expired().
//
// `Connection` has `std::string key`, `bool parked` and `std::chrono::steady_clock::time_point
// idle_since`, which the pool maintains.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

namespace mp::webfilter {

template <typename Connection>
class UpstreamPool {
 public:
  using Clock = std::chrono::steady_clock;

  UpstreamPool(std::size_t max_idle, std::size_t max_per_destination)
      : max_idle_(max_idle), max_per_destination_(max_per_destination) {}

  // The most recently parked connection to `key`, out of the pool; null if there is none.
  Connection* take(const std::string& key) {
    auto it = idle_.find(key);
    if (it == idle_.end() || it->second.empty()) return nullptr;
    Connection* up = it->second.back();
    it->second.pop_back();
    --count_;
    up->parked = false;
    return up;
  }

  // Files `up` under its key, idle since `now`; false when there is no room for it.
  bool park(Connection& up, Clock::time_point now) {
    auto& list = idle_[up.key];
    if (count_ >= max_idle_ || list.size() >= max_per_destination_) return false;
    list.push_back(&up);
    ++count_;
    up.parked = true;
    up.idle_since = now;
    return true;
  }

  // Takes `up` out of the pool if it is parked (it is being closed).
  void remove(Connection& up) {
    if (!up.parked) return;
    up.parked = false;
    auto list = idle_.find(up.key);
    if (list == idle_.end()) return;
    auto at = std::find(list->second.begin(), list->second.end(), &up);
    if (at == list->second.end()) return;
    list->second.erase(at);
    --count_;
  }

  // Parked connections idle for `timeout` or longer (still parked: remove() them on close).
  std::vector<Connection*> expired(Clock::time_point now, Clock::duration timeout) const {
    std::vector<Connection*> out;
    for (const auto& [key, list] : idle_) {
      for (Connection* up : list) {
        if (now - up->idle_since >= timeout) out.push_back(up);
      }
    }
    return out;
  }

  // Empty per-destination lists are kept (a destination in use parks and takes without
  // allocating) until there are more of them than connections allowed.
  void trim() {
    if (idle_.size() > max_idle_) {
      std::erase_if(idle_, [](const auto& entry) { return entry.second.empty(); });
    }
  }

  std::size_t size() const { return count_; }
  std::size_t destinations() const { return idle_.size(); }

 private:
  std::size_t max_idle_;
  std::size_t max_per_destination_;
  std::unordered_map<std::string, std::vector<Connection*>> idle_;
  std::size_t count_ = 0;
};

}  // namespace mp::webfilter
