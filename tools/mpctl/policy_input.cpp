#include "policy_input.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <set>

namespace mp::mpctl {

namespace {

constexpr std::array<std::string_view, 7> kDayNames = {"mon", "tue", "wed", "thu",
                                                       "fri", "sat", "sun"};

// Names a hosts file maps that are never what a block list means.
bool is_local_name(std::string_view name) {
  static const std::set<std::string, std::less<>> kLocal = {
      "localhost",     "localhost.localdomain", "local",        "broadcasthost",
      "ip6-localhost", "ip6-loopback",          "ip6-localnet", "ip6-mcastprefix",
      "ip6-allnodes",  "ip6-allrouters",        "ip6-allhosts", "0.0.0.0"};
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kLocal.contains(lower);
}

bool is_ip_address(const std::string& token) {
  unsigned char bytes[16];
  return inet_pton(AF_INET, token.c_str(), bytes) == 1 ||
         inet_pton(AF_INET6, token.c_str(), bytes) == 1;
}

std::vector<std::string> tokens_of(std::string_view line) {
  std::vector<std::string> tokens;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) tokens.emplace_back(line.substr(start, i - start));
  }
  return tokens;
}

std::optional<int> day_index(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (int i = 0; i < 7; ++i) {
    static constexpr std::array<std::string_view, 7> kFull = {
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
    if (lower == kDayNames[i] || lower == kFull[i]) return i;
  }
  return std::nullopt;
}

}  // namespace

DomainListFile parse_domain_list(std::string_view text) {
  DomainListFile out;
  std::set<std::string> seen;
  std::size_t line_number = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    auto tokens = tokens_of(line);
    if (tokens.empty()) continue;
    std::vector<std::string> names;
    if (is_ip_address(tokens[0])) {
      // A hosts line: the address, then the names it maps.
      names.assign(tokens.begin() + 1, tokens.end());
      if (names.empty()) ++out.skipped;
    } else if (tokens.size() == 1) {
      names = std::move(tokens);
    } else {
      out.error = "line " + std::to_string(line_number) +
                  ": expected one domain per line or a hosts entry (ADDRESS NAME...), got '" +
                  std::string(line) + "'";
      return out;
    }
    for (auto& name : names) {
      if (is_local_name(name)) {
        ++out.skipped;
        continue;
      }
      if (seen.insert(name).second) out.domains.push_back(std::move(name));
    }
  }
  return out;
}

std::optional<std::uint8_t> parse_days(std::string_view text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "weekdays") return 0b0011111;
  if (lower == "weekend") return 0b1100000;
  if (lower == "daily" || lower == "every-day" || lower == "all") return 0b1111111;
  std::uint8_t days = 0;
  std::size_t start = 0;
  while (start <= lower.size()) {
    std::size_t end = lower.find(',', start);
    if (end == std::string::npos) end = lower.size();
    std::string_view part = std::string_view(lower).substr(start, end - start);
    start = end + 1;
    if (auto dash = part.find('-'); dash != std::string_view::npos) {
      auto first = day_index(part.substr(0, dash));
      auto last = day_index(part.substr(dash + 1));
      if (!first || !last) return std::nullopt;
      // A range may wrap over the weekend: fri-mon.
      for (int day = *first;; day = (day + 1) % 7) {
        days |= static_cast<std::uint8_t>(1u << day);
        if (day == *last) break;
      }
    } else {
      auto day = day_index(part);
      if (!day) return std::nullopt;
      days |= static_cast<std::uint8_t>(1u << *day);
    }
  }
  if (days == 0) return std::nullopt;
  return days;
}

std::string days_name(std::uint8_t days) {
  days &= 0x7f;
  if (days == 0x7f) return "daily";
  // One run of consecutive days reads as a range.
  int first = -1, last = -1, runs = 0;
  for (int day = 0; day < 7; ++day) {
    bool on = days & (1u << day);
    bool previous = day > 0 && (days & (1u << (day - 1)));
    if (on && !previous) {
      ++runs;
      first = day;
    }
    if (on) last = day;
  }
  if (runs == 1 && last > first + 1) {
    return std::string(kDayNames[first]) + "-" + std::string(kDayNames[last]);
  }
  std::string out;
  for (int day = 0; day < 7; ++day) {
    if ((days & (1u << day)) == 0) continue;
    if (!out.empty()) out += ",";
    out += kDayNames[day];
  }
  return out;
}

std::optional<std::uint16_t> parse_clock(std::string_view text, bool end_of_day_ok) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() != colon + 3) {
    return std::nullopt;
  }
  int hours = 0, minutes = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == colon) continue;
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    (i < colon ? hours : minutes) = (i < colon ? hours : minutes) * 10 + (text[i] - '0');
  }
  if (minutes > 59) return std::nullopt;
  if (hours == 24 && minutes == 0 && end_of_day_ok) return 1440;
  if (hours > 23) return std::nullopt;
  return static_cast<std::uint16_t>(hours * 60 + minutes);
}

std::string clock_name(std::uint16_t minute) {
  char out[8];
  std::snprintf(out, sizeof out, "%02u:%02u", minute / 60u, minute % 60u);
  return out;
}

std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_ns) {
  constexpr std::int64_t kSecond = 1'000'000'000;
  auto digits = [](std::string_view part, std::int64_t* out) {
    if (part.empty() || part.size() > 9) return false;
    std::int64_t value = 0;
    for (char c : part) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
      value = value * 10 + (c - '0');
    }
    *out = value;
    return true;
  };
  if (text.size() >= 2 && std::string_view("smhd").find(text.back()) != std::string_view::npos) {
    std::int64_t count = 0;
    if (!digits(text.substr(0, text.size() - 1), &count)) return std::nullopt;
    std::int64_t unit = text.back() == 's'   ? 1
                        : text.back() == 'm' ? 60
                        : text.back() == 'h' ? 3600
                                             : 86400;
    return std::max<std::int64_t>(0, now_ns - count * unit * kSecond);
  }
  // YYYY-MM-DD, optionally followed by 'T' or ' ' and HH:MM.
  if (text.size() != 10 && text.size() != 16) return std::nullopt;
  std::int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0;
  if (text[4] != '-' || text[7] != '-' || !digits(text.substr(0, 4), &year) ||
      !digits(text.substr(5, 2), &month) || !digits(text.substr(8, 2), &day)) {
    return std::nullopt;
  }
  if (text.size() == 16) {
    if ((text[10] != 'T' && text[10] != ' ') || text[13] != ':' ||
        !digits(text.substr(11, 2), &hour) || !digits(text.substr(14, 2), &minute)) {
      return std::nullopt;
    }
  }
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59) {
    return std::nullopt;
  }
  std::tm local{};
  local.tm_year = static_cast<int>(year - 1900);
  local.tm_mon = static_cast<int>(month - 1);
  local.tm_mday = static_cast<int>(day);
  local.tm_hour = static_cast<int>(hour);
  local.tm_min = static_cast<int>(minute);
  local.tm_isdst = -1;  // let the zone say whether summer time applies
  std::time_t seconds = std::mktime(&local);
  // mktime normalises "02-31" to March: refuse dates that do not exist.
  if (seconds == -1 || local.tm_mday != day || local.tm_mon != month - 1) return std::nullopt;
  return static_cast<std::int64_t>(seconds) * kSecond;
}

}  // namespace mp::mpctl
