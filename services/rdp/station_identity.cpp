#include "station_identity.h"

#include <algorithm>

namespace mp::rdp {

namespace {

bool key_byte(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.' || c == '_' || c == '@' || c == '/' || c == '-';
}

}  // namespace

std::string station_key_for(std::string_view client_hostname) {
  std::string key = "rdp:";
  for (unsigned char c : client_hostname) {
    if (c == 0) break;  // the name comes from a fixed-size, NUL-padded field
    if (key.size() >= kMaxStationKeyBytes) break;
    key.push_back(key_byte(c) ? static_cast<char>(c) : '_');
  }
  if (key.size() == 4) key += "unnamed";
  return key;
}

std::string printable(std::string_view text, std::size_t max) {
  std::string out;
  for (unsigned char c : text.substr(0, max)) {
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  return out;
}

DesktopSize clamp_desktop(std::uint32_t width, std::uint32_t height) {
  return {static_cast<std::uint16_t>(
              std::clamp<std::uint32_t>(width, kMinDesktop.width, kMaxDesktop.width)),
          static_cast<std::uint16_t>(
              std::clamp<std::uint32_t>(height, kMinDesktop.height, kMaxDesktop.height))};
}

}  // namespace mp::rdp
