// One logon throttle for every service that checks passwords (mp-session, mp-rdp, mp-dashboard).
//
// Attempts are counted per key: account + source (+ a channel: in mp-session the service that
// asked, so a flood of RDP logons does not keep an administrator out of the dashboard), and per
// source + channel across accounts (password spraying). A few failures per key are free; after
// that each further attempt must wait base·2^n (capped), measured from the last counted attempt.
// An attempt inside the wait is refused at once, without checking a password, with the time left,
// and does not count. There is no hard lock-out: whoever waits may try again, so nobody can keep
// an account out for longer than the cap.
//
// An attempt counts when it starts: begin() reserves it, so parallel tries cannot slip past the
// check while earlier ones are still being answered; finish() settles it — a success clears its
// account key (and gives its source reservation back), a failure stays counted, an undecided
// attempt (the checker never answered) is given back.
//
// Bounded memory: a key idle for `forget_after` is forgotten, and beyond `max_keys` the key
// counted least recently goes first. Thread-safe: the dashboard's HTTP threads share one.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mp::service {

class LogonThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    int free_failures = 3;  // per account, source and channel
    // Per source and channel, across accounts. High enough for every demo station logging on
    // from 127.0.0.1 at once (in-flight logons count too).
    int free_source_failures = 64;
    std::chrono::milliseconds base_delay{1000};
    std::chrono::milliseconds max_delay{std::chrono::minutes(5)};
    std::chrono::milliseconds forget_after{std::chrono::minutes(30)};  // since its last attempt
    std::size_t max_keys = 20000;
    std::function<Clock::time_point()> clock;  // empty: steady_clock::now
  };
  // What begin() reserved: hand it back to finish().
  struct Attempt {
    std::string account_key;
    std::string source_key;
  };
  struct Admission {
    std::optional<Attempt> attempt;            // set: go ahead and check the password
    std::chrono::milliseconds retry_after{0};  // unset attempt: wait at least this long
    bool allowed() const { return attempt.has_value(); }
  };
  enum class Outcome { succeeded, failed, undecided };

  LogonThrottle() : LogonThrottle(Options{}) {}
  explicit LogonThrottle(Options options);

  // `source` is normalised here (logon_source()). An empty account counts against the source
  // only (a name too malformed to be anyone's).
  Admission begin(std::string_view account, std::string_view source, std::string_view channel = {});
  void finish(const Attempt& attempt, Outcome outcome);

  // How long every attempt from `source` (on `channel`) must still wait, whatever its account:
  // zero while the source may try. A server may turn such a source away before it costs
  // anything (mp-rdp: before TLS); begin() would refuse it anyway.
  std::chrono::milliseconds source_wait(std::string_view source, std::string_view channel = {});

  std::size_t tracked_keys() const;
  const Options& options() const { return options_; }

 private:
  struct Entry {
    int count = 0;  // counted attempts, in flight ones included
    Clock::time_point last;
    std::list<std::string>::iterator position;  // in order_
  };
  Clock::time_point now() const;
  // When the next attempt on `entry` may start (`last` itself while it is free).
  Clock::time_point allowed_from(const Entry& entry, int free) const;
  void count(const std::string& key, Clock::time_point now);
  void give_back(const std::string& key);
  void erase(std::unordered_map<std::string, Entry>::iterator it);
  void forget_idle(Clock::time_point now);

  Options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> order_;  // keys, least recently counted first
};

// The source a logon comes from, as the throttle counts it: every loopback address (127.0.0.0/8,
// ::1, ::ffff:127.x.y.z) is "local"; an IPv4-mapped IPv6 address is its IPv4 address; other IPv6
// addresses count by their /64 ("2001:db8:1:2::/64"), since one host gets a whole /64; brackets
// and zone ids are ignored. Empty: "unknown"; not an address: "other:" and at most 64 bytes of it.
std::string logon_source(std::string_view address);

// "try again in 3 s": a wait for people, rounded up to whole seconds.
std::string retry_text(std::chrono::milliseconds wait);
// The wait in whole seconds, rounded up (at least 1): for Retry-After headers.
long long retry_seconds(std::chrono::milliseconds wait);

}  // namespace mp::service
