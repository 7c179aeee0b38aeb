// Checks for every text field that arrives from the bus. Each returns an empty string when the
// value is acceptable, else a clear reason for the caller's `invalid` error.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "mp/service/validation.h"

namespace mp::policy {

// 1..128 bytes of [A-Za-z0-9:._@/-], e.g. "rdp:lab-3", "usb:1-2.3".
using mp::service::check_station_key;
// ^[a-z0-9][a-z0-9_-]{0,31}$, e.g. "lab-a".
std::string check_group_name(std::string_view name);
// Free text (block messages, labels): at most `max_characters` code points of valid UTF-8,
// no control characters (they would reach lock screens, logs and terminals).
std::string check_text(std::string_view field, std::string_view text, std::size_t max_characters);

}  // namespace mp::policy
