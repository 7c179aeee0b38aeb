// Failed logons per client address: after too many in a window, further attempts from that
// address are refused without asking mp-session (which throttles too, per user and address).
// Used on the main thread only.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>

namespace mp::rdp {

class LogonThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  LogonThrottle(int max_failures, std::chrono::seconds window)
      : max_failures_(max_failures), window_(window) {}

  // Whether `address` may try now.
  bool allowed(const std::string& address, Clock::time_point now);
  void failed(const std::string& address, Clock::time_point now);
  void succeeded(const std::string& address);
  std::size_t tracked_addresses() const { return failures_.size(); }

 private:
  void forget_old(Clock::time_point now);

  int max_failures_;
  std::chrono::seconds window_;
  std::map<std::string, std::deque<Clock::time_point>> failures_;
  static constexpr std::size_t kMaxAddresses = 10000;  // bounds memory under a spray of addresses
};

}  // namespace mp::rdp
