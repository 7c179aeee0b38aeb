// Checks shared by the services for text that arrives from the bus. Each check returns an empty
// string when the value is acceptable, else a clear reason for the caller's `invalid` error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mp::service {

// 1..128 bytes of [A-Za-z0-9:._@/-], e.g. "rdp:lab-3", "usb:1-2.3", "video:card0-HDMI-A-1".
std::string check_station_key(std::string_view key);

// Code points of `text`, or -1 if it is not valid UTF-8 (malformed, overlong, surrogates) or
// holds a C0/C1 control character.
long printable_code_points(std::string_view text);

// At most `max_bytes` of `text`, never cutting a UTF-8 sequence in two.
std::string utf8_prefix(const std::string& text, std::size_t max_bytes);

inline bool is_lower_or_digit(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace mp::service
