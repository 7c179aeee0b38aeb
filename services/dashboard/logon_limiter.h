// Slows down password guessing through the dashboard: at most `max_failures` refused logons per
// client address within a sliding window; after that, 429 until the oldest failure leaves the
// window. Every attempt is counted when it starts (so a burst of parallel guesses cannot slip
// past the check) and uncounted when it turns out not to be a wrong password. mp-session keeps
// its own, wider limits per user and per address; this one answers before a password is hashed.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace mp::dashboard {

class LogonLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int max_failures = 5;
    std::chrono::seconds window{60};
    std::size_t max_tracked = 10000;  // addresses; bounds memory under a flood of sources
  };
  LogonLimiter() : LogonLimiter(Options{}) {}
  explicit LogonLimiter(Options options) : options_(options) {}

  // nullopt: the attempt may go ahead and now counts as a failure; else how long to wait.
  std::optional<std::chrono::seconds> begin(const std::string& address, Clock::time_point now);
  // The attempt begun at `started` was not a wrong password (it succeeded, the account may not
  // use the dashboard, or mp-session did not answer): it stops counting.
  void not_a_failure(const std::string& address, Clock::time_point started);

 private:
  void forget_old(std::deque<Clock::time_point>& failures, Clock::time_point now) const;
  void make_room(Clock::time_point now);

  Options options_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;
};

}  // namespace mp::dashboard
