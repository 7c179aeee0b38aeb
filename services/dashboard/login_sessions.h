// The dashboard's logged-in operators: a cookie names a session by a random 256-bit id; each
// session carries its own CSRF token. Sessions end on logout, after an idle time, after a
// fixed lifetime, or when too many exist (the least recently used goes first). Kept in memory
// only: restarting mp-dashboard logs everybody out, which is the safe direction.
// Thread-safe: HTTP handler threads share one instance.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mp::dashboard {

struct LoginSession {
  std::string id;          // the cookie's value (64 hex digits)
  std::string csrf_token;  // sent back as X-CSRF-Token on every mutating call
  std::string user;
  std::string role;  // "admin" or "dashboard"
  std::string client_address;
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
                      Clock::time_point now);
  // The live session with this id, marked as used now; nullopt if unknown or expired.
  std::optional<LoginSession> use(std::string_view id, Clock::time_point now);
  // True if it existed.
  bool remove(std::string_view id);
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
