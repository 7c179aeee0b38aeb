#include "mp/service/validation.h"

#include <cstddef>
#include <cstdint>

namespace mp::service {

long printable_code_points(std::string_view text) {
  long count = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    auto byte = static_cast<std::uint8_t>(text[i]);
    std::uint32_t code = 0;
    std::size_t length = 0;
    if (byte < 0x80) {
      code = byte;
      length = 1;
    } else if ((byte & 0xE0) == 0xC0) {
      code = byte & 0x1F;
      length = 2;
    } else if ((byte & 0xF0) == 0xE0) {
      code = byte & 0x0F;
      length = 3;
    } else if ((byte & 0xF8) == 0xF0) {
      code = byte & 0x07;
      length = 4;
    } else {
      return -1;
    }
    if (i + length > text.size()) return -1;
    for (std::size_t k = 1; k < length; ++k) {
      auto next = static_cast<std::uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) return -1;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr std::uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
      return -1;
    }
    if (code < 0x20 || (code >= 0x7F && code < 0xA0)) return -1;
    ++count;
    i += length;
  }
  return count;
}

std::string check_station_key(std::string_view key) {
  if (key.empty() || key.size() > 128) return "a station key must be 1 to 128 bytes";
  for (char c : key) {
    bool ok = is_lower_or_digit(c) || (c >= 'A' && c <= 'Z') || c == ':' || c == '.' || c == '_' ||
              c == '@' || c == '/' || c == '-';
    if (!ok) return "a station key may only hold A-Z a-z 0-9 : . _ @ / -";
  }
  return {};
}

std::string utf8_prefix(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace mp::service
