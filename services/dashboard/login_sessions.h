// The dashboard's logged-in operators: a cookie names a session by a random 256-bit id; each
// session carries its own CSRF token. Sessions end on logout, after an idle time, after a
// fixed lifetime, when too many exist (the least recently used goes first), or when their
// account changes (LoginGuard). Kept in memory only: restarting mp-dashboard logs everybody
// out, which is the safe direction.
// Thread-safe: HTTP handler threads share one instance.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace mp::dashboard {

struct LoginSession {
  std::string id;          // the cookie's value (64 hex digits)
  std::string csrf_token;  // sent back as X-CSRF-Token on every mutating call
  std::string user;
  std::string role;  // "admin" or "dashboard"
  std::string client_address;
  // CLOCK_REALTIME when the password was checked (taken before asking mp-session): a password
  // reset after it ends the login.
  std::int64_t logged_in_at_ns = 0;
  std::chrono::steady_clock::time_point created;
  std::chrono::steady_clock::time_point last_used;
};

class LoginSessions {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    std::chrono::seconds idle_timeout{std::chrono::minutes(30)};
    std::chrono::seconds lifetime{std::chrono::hours(12)};
    std::size_t max_sessions = 256;
  };
  LoginSessions() : LoginSessions(Options{}) {}
  explicit LoginSessions(Options options) : options_(options) {}

  LoginSession create(std::string user, std::string role, std::string client_address,
                      Clock::time_point now, std::int64_t logged_in_at_ns = 0);
  // The live session with this id, marked as used now; nullopt if unknown or expired.
  std::optional<LoginSession> use(std::string_view id, Clock::time_point now);
  // True if it existed.
  bool remove(std::string_view id);
  // Removes every session `condemned` returns a reason for; returns them with their reasons.
  std::vector<std::pair<LoginSession, std::string>> remove_if(
      const std::function<std::string(const LoginSession&)>& condemned);
  std::size_t size() const;
  const Options& options() const { return options_; }

 private:
  bool expired(const LoginSession& session, Clock::time_point now) const;
  void make_room(Clock::time_point now);

  Options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, LoginSession> sessions_;
};

}  // namespace mp::dashboard
