// Checks for every text field that arrives from the bus. Each returns an empty string when the
// value is acceptable, else a clear reason for the caller's `invalid` error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mp/service/validation.h"

namespace mp::session {

// 1..128 bytes of [A-Za-z0-9:._@/-], e.g. "rdp:lab-3", "usb:1-2.3", "video:card0-HDMI-A-1".
using mp::service::check_station_key;
// Like a Linux user name: ^[a-z_][a-z0-9_-]{0,31}$.
std::string check_user_name(std::string_view name);
// 1..64 printable characters (UTF-8; no control characters), no leading/trailing space.
std::string check_station_name(std::string_view name);
// A bus service name: 1..64 bytes of [a-z0-9_.-].
std::string check_transport_name(std::string_view name);
// 8..1024 bytes.
std::string check_new_password(std::string_view password);
// Free text (client names, addresses, reasons): at most `max_bytes`, valid UTF-8, no control
// characters (they would reach logs and terminals).
std::string check_text(std::string_view field, std::string_view text, std::size_t max_bytes);

}  // namespace mp::session
