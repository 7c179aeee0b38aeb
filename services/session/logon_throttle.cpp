#include "logon_throttle.h"

namespace mp::session {

bool LogonThrottle::expired(const Entry& entry, std::int64_t now_ns) const {
  return now_ns - entry.window_start_ns >=
         std::chrono::duration_cast<std::chrono::nanoseconds>(options_.window).count();
}

bool LogonThrottle::allowed(std::string_view key, std::int64_t now_ns) const {
  auto it = entries_.find(std::string(key));
  if (it == entries_.end() || expired(it->second, now_ns)) return true;
  return it->second.failures < options_.max_failures;
}

void LogonThrottle::failed(std::string_view key, std::int64_t now_ns) {
  if (entries_.size() >= options_.max_tracked) {
    std::erase_if(entries_, [&](const auto& item) { return expired(item.second, now_ns); });
    // Still full: a flood of distinct keys. Forget everything rather than grow without bound.
    if (entries_.size() >= options_.max_tracked) entries_.clear();
  }
  Entry& entry = entries_[std::string(key)];
  if (entry.failures == 0 || expired(entry, now_ns)) entry = Entry{0, now_ns};
  ++entry.failures;
}

}  // namespace mp::session
