#include "mp/service/logon_throttle.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace mp::service {

namespace {

constexpr std::size_t kMaxAccountKeyBytes = 256;  // longer names are no one's; bounds memory
constexpr std::size_t kMaxOtherSourceBytes = 64;

std::string account_key(std::string_view channel, std::string_view source,
                        std::string_view account) {
  std::string key = "a\n";
  key.append(channel).append("\n").append(source).append("\n");
  key.append(account.substr(0, kMaxAccountKeyBytes));
  return key;
}

std::string source_key(std::string_view channel, std::string_view source) {
  std::string key = "s\n";
  key.append(channel).append("\n").append(source);
  return key;
}

std::string ipv4_source(const unsigned char* bytes) {
  if (bytes[0] == 127) return "local";
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, bytes, text, sizeof text);
  return text;
}

}  // namespace

LogonThrottle::LogonThrottle(Options options) : options_(std::move(options)) {
  options_.free_failures = std::max(options_.free_failures, 0);
  options_.free_source_failures = std::max(options_.free_source_failures, 0);
  options_.max_keys = std::max<std::size_t>(options_.max_keys, 2);  // one attempt's two keys
  // A key must outlive its longest wait, or waiting would not be needed.
  options_.forget_after = std::max(options_.forget_after, options_.max_delay);
}

LogonThrottle::Clock::time_point LogonThrottle::now() const {
  return options_.clock ? options_.clock() : Clock::now();
}

LogonThrottle::Clock::time_point LogonThrottle::allowed_from(const Entry& entry, int free) const {
  if (entry.count < free) return entry.last;
  // base·2^n for the n-th attempt beyond the free ones, capped; the shift is bounded so it
  // cannot overflow whatever the count.
  int doublings = std::min(entry.count - free, 30);
  auto delay = options_.base_delay * (std::int64_t{1} << doublings);
  return entry.last + std::min(delay, options_.max_delay);
}

LogonThrottle::Admission LogonThrottle::begin(std::string_view account, std::string_view source,
                                              std::string_view channel) {
  std::string normalised = logon_source(source);
  std::string by_source = source_key(channel, normalised);
  std::string by_account =
      account.empty() ? std::string() : account_key(channel, normalised, account);

  std::lock_guard lock(mutex_);
  auto at = now();
  forget_idle(at);
  auto until = at;
  if (auto it = entries_.find(by_source); it != entries_.end()) {
    until = std::max(until, allowed_from(it->second, options_.free_source_failures));
  }
  if (!by_account.empty()) {
    if (auto it = entries_.find(by_account); it != entries_.end()) {
      until = std::max(until, allowed_from(it->second, options_.free_failures));
    }
  }
  if (until > at) {
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(until - at);
    return Admission{std::nullopt, wait};
  }
  if (!by_account.empty()) count(by_account, at);
  count(by_source, at);
  return Admission{Attempt{std::move(by_account), std::move(by_source)}, {}};
}

std::chrono::milliseconds LogonThrottle::source_wait(std::string_view source,
                                                     std::string_view channel) {
  std::string key = source_key(channel, logon_source(source));
  std::lock_guard lock(mutex_);
  auto at = now();
  forget_idle(at);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::chrono::milliseconds(0);
  auto until = allowed_from(it->second, options_.free_source_failures);
  if (until <= at) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(until - at);
}

void LogonThrottle::finish(const Attempt& attempt, Outcome outcome) {
  std::lock_guard lock(mutex_);
  switch (outcome) {
    case Outcome::failed:
      return;  // counted when it began
    case Outcome::succeeded:
      if (auto it = entries_.find(attempt.account_key); it != entries_.end()) erase(it);
      give_back(attempt.source_key);
      return;
    case Outcome::undecided:
      if (!attempt.account_key.empty()) give_back(attempt.account_key);
      give_back(attempt.source_key);
      return;
  }
}

std::size_t LogonThrottle::tracked_keys() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

void LogonThrottle::count(const std::string& key, Clock::time_point at) {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    // Full: the key counted least recently goes. Under a flood of sources that forgets old
    // failures, never more than memory allows.
    while (entries_.size() >= options_.max_keys) erase(entries_.find(order_.front()));
    order_.push_back(key);
    it = entries_.emplace(key, Entry{0, at, std::prev(order_.end())}).first;
  } else {
    order_.splice(order_.end(), order_, it->second.position);
  }
  ++it->second.count;
  it->second.last = at;
}

void LogonThrottle::give_back(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  if (--it->second.count <= 0) erase(it);
}

void LogonThrottle::erase(std::unordered_map<std::string, Entry>::iterator it) {
  order_.erase(it->second.position);
  entries_.erase(it);
}

void LogonThrottle::forget_idle(Clock::time_point at) {
  // order_ is by last count, so the idle ones are at its front.
  while (!order_.empty()) {
    auto it = entries_.find(order_.front());
    if (at - it->second.last < options_.forget_after) return;
    erase(it);
  }
}

std::string logon_source(std::string_view address) {
  if (address.size() >= 2 && address.front() == '[' && address.back() == ']') {
    address = address.substr(1, address.size() - 2);
  }
  if (address.empty()) return "unknown";
  std::string text(address.substr(0, address.find('%')));  // fe80::1%eth0: the zone is no part
  unsigned char bytes[16] = {};
  if (inet_pton(AF_INET, text.c_str(), bytes) == 1) return ipv4_source(bytes);
  if (inet_pton(AF_INET6, text.c_str(), bytes) == 1) {
    static constexpr unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes, kLoopback, 16) == 0) return "local";
    if (std::memcmp(bytes, kMappedPrefix, 12) == 0) return ipv4_source(bytes + 12);
    std::memset(bytes + 8, 0, 8);
    char prefix[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, bytes, prefix, sizeof prefix);
    return std::string(prefix) + "/64";
  }
  return "other:" + std::string(address.substr(0, kMaxOtherSourceBytes));
}

long long retry_seconds(std::chrono::milliseconds wait) {
  return std::max<long long>(std::chrono::ceil<std::chrono::seconds>(wait).count(), 1);
}

std::string retry_text(std::chrono::milliseconds wait) {
  return "try again in " + std::to_string(retry_seconds(wait)) + " s";
}

}  // namespace mp::service
