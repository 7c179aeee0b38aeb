// What a connecting RDP client is called on the bus: its station key and the desktop size it
// may ask for. Pure functions of client-supplied data, so they are tested directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mp::rdp {

inline constexpr std::size_t kMaxStationKeyBytes = 128;

// "rdp:" + the client's computer name, with every byte outside [A-Za-z0-9:._@/-] replaced by
// '_' and cut to kMaxStationKeyBytes. An empty or missing name becomes "rdp:unnamed".
std::string station_key_for(std::string_view client_hostname);

// Client-supplied text made safe for logs and the bus: control bytes and non-ASCII replaced,
// at most `max` bytes.
std::string printable(std::string_view text, std::size_t max);

struct DesktopSize {
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  bool operator==(const DesktopSize&) const = default;
};

// Desktop sizes a client may ask for; anything else is clamped into this box.
inline constexpr DesktopSize kMinDesktop{640, 480};
inline constexpr DesktopSize kMaxDesktop{4096, 2160};

DesktopSize clamp_desktop(std::uint32_t width, std::uint32_t height);

}  // namespace mp::rdp
