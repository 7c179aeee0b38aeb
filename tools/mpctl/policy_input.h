// What operators type or import for policy commands, turned into request values. Pure, so it is
// tested without a bus. mp-policy normalises and validates domains itself; these functions only
// read the formats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mp::mpctl {

struct DomainListFile {
  std::vector<std::string> domains;  // in file order, duplicates dropped
  std::size_t skipped = 0;           // localhost entries and hosts lines without a name
  std::string error;                 // "line N: ..." when the text is not a list
};

// Reads a plain list (one domain per line) or a hosts file ("0.0.0.0 ads.example.com",
// "127.0.0.1 a b", localhost names skipped), in any mix. '#' starts a comment; blank lines are
// ignored; CR LF line ends are fine.
DomainListFile parse_domain_list(std::string_view text);

// "mon-fri", "mon,wed,fri", "sat-sun", "fri-mon", "weekdays", "weekend", "daily": bit 0 = Monday
// ... bit 6 = Sunday. nullopt for anything else.
std::optional<std::uint8_t> parse_days(std::string_view text);
std::string days_name(std::uint8_t days);  // 0b0011111 -> "mon-fri", 0b0010101 -> "mon,wed,fri"

// "9:00", "09:00" -> minutes after midnight; "24:00" only when `end_of_day_ok`.
std::optional<std::uint16_t> parse_clock(std::string_view text, bool end_of_day_ok);
std::string clock_name(std::uint16_t minute);  // 540 -> "09:00"

// For `audit --since`: "30m", "2h", "7d", "90s" (that long before `now_ns`), "2026-11-22" (local
// midnight) or "2026-11-22T09:30" / "2026-11-22 09:30" (local time) -> CLOCK_REALTIME ns.
// nullopt for anything else.
std::optional<std::int64_t> parse_since(std::string_view text, std::int64_t now_ns);

}  // namespace mp::mpctl
