// Slows down password guessing: after too many failed logons for one user name or from one
// client address within a window, further attempts are refused without checking a password.
// Kept in memory only: a restart forgets it, which costs an attacker a restart per window.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mp::session {

class LogonThrottle {
 public:
  struct Options {
    int max_failures = 10;
    std::chrono::seconds window{60};
    std::size_t max_tracked = 10000;  // bounds memory under a flood of distinct names
  };
  LogonThrottle() : LogonThrottle(Options{}) {}
  explicit LogonThrottle(Options options) : options_(options) {}

  bool allowed(std::string_view key, std::int64_t now_ns) const;
  void failed(std::string_view key, std::int64_t now_ns);
  void succeeded(std::string_view key) { entries_.erase(std::string(key)); }

 private:
  struct Entry {
    int failures = 0;
    std::int64_t window_start_ns = 0;
  };
  bool expired(const Entry& entry, std::int64_t now_ns) const;

  Options options_;
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace mp::session
