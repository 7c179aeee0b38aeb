#include "mp/hostname/host_name.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>

namespace mp::hostname {

namespace {

constexpr std::size_t kMaxRawBytes = 1024;  // before IDNA: keeps libidn2's work bounded
constexpr std::size_t kMaxNameBytes = 253;
constexpr std::size_t kMaxLabelBytes = 63;

struct FreeIdn2 {
  void operator()(char* p) const { idn2_free(p); }
};
using Idn2String = std::unique_ptr<char, FreeIdn2>;

bool fail(std::string* why, std::string_view reason) {
  if (why) why->assign(reason);
  return false;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// One part of a WHATWG IPv4 address: decimal, 0x-hex (possibly empty) or 0-octal.
std::optional<std::uint64_t> ipv4_number(std::string_view s) {
  unsigned radix = 10;
  if (s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    radix = 16;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    radix = 8;
    s.remove_prefix(1);
  }
  std::uint64_t value = 0;
  for (char c : s) {
    unsigned digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<unsigned>(c - 'a' + 10);
    } else if (c >= 'A' && c <= 'F') {
      digit = static_cast<unsigned>(c - 'A' + 10);
    } else {
      return std::nullopt;
    }
    if (digit >= radix) return std::nullopt;
    value = value * radix + digit;
    if (value > 0xFFFFFFFFull) value = 0x100000000ull;  // saturate: too big either way
  }
  return value;
}

// WHATWG's "ends in a number": the host is then an IPv4 address or invalid.
bool ends_in_number(std::string_view host) {
  auto dot = host.rfind('.');
  std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
  if (last.empty()) return false;
  if (std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return true;
  }
  return ipv4_number(last).has_value();
}

bool parse_ipv4(std::string_view host, std::uint32_t& address) {
  std::uint64_t parts[4];
  std::size_t count = 0;
  while (true) {
    auto dot = host.find('.');
    std::string_view part = host.substr(0, dot);
    if (part.empty() || count == 4) return false;
    auto value = ipv4_number(part);
    if (!value) return false;
    parts[count++] = *value;
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  for (std::size_t i = 0; i + 1 < count; ++i) {
    if (parts[i] > 255) return false;
  }
  std::uint64_t last_limit = 1ull << (8 * (5 - count));
  if (parts[count - 1] >= last_limit) return false;
  std::uint64_t value = parts[count - 1];
  for (std::size_t i = 0; i + 1 < count; ++i) value += parts[i] << (8 * (3 - i));
  address = static_cast<std::uint32_t>(value);
  return true;
}

// `address` in network byte order.
bool set_ipv4(const void* address, Host& out) {
  char text[INET_ADDRSTRLEN];
  if (!inet_ntop(AF_INET, address, text, sizeof text)) return false;
  out.text.assign(text);
  out.kind = HostKind::ipv4;
  return true;
}

bool normalize_ipv6(std::string_view inner, Host& out, std::string* why) {
  constexpr std::string_view kInvalid = "not a valid IPv6 address";
  char text[INET6_ADDRSTRLEN];
  if (inner.empty() || inner.size() >= sizeof text || inner.find('%') != std::string_view::npos) {
    return fail(why, kInvalid);
  }
  std::memcpy(text, inner.data(), inner.size());
  text[inner.size()] = '\0';
  in6_addr address;
  if (inet_pton(AF_INET6, text, &address) != 1) return fail(why, kInvalid);
  // ::ffff:a.b.c.d reaches a.b.c.d: it is that address, whatever list it is compared with.
  if (IN6_IS_ADDR_V4MAPPED(&address)) return set_ipv4(&address.s6_addr[12], out);
  if (!inet_ntop(AF_INET6, &address, text, sizeof text)) return fail(why, kInvalid);
  out.text.assign(text);
  out.kind = HostKind::ipv6;
  return true;
}

// The label rules on a lowercase ASCII name without its trailing dot. `decode_a_labels`: check
// that "xn--" labels decode (names that came out of IDNA already did).
bool check_labels(std::string_view name, bool decode_a_labels, std::string* why) {
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view label = name.substr(start, end - start);
    if (label.empty()) return fail(why, "empty label");
    if (label.size() > kMaxLabelBytes) return fail(why, "label longer than 63 bytes");
    for (char c : label) {
      if (!label_char(c)) {
        return fail(why, std::string("character '") + c + "' not allowed in a name");
      }
    }
    if (decode_a_labels && label.starts_with("xn--")) {
      // An A-label that does not decode names nothing a browser would ask for.
      std::string text(label);
      char* decoded = nullptr;
      int rc = idn2_to_unicode_8z8z(text.c_str(), &decoded, 0);
      Idn2String owned(decoded);
      if (rc != IDN2_OK) {
        return fail(why, "bad IDNA label '" + text + "': " + idn2_strerror(rc));
      }
    }
    start = end + 1;
  }
  return true;
}

}  // namespace

bool normalize_host(std::string_view raw, Host& out, std::string* why) {
  out.text.clear();
  out.kind = HostKind::name;
  if (raw.empty()) return fail(why, "empty name");
  if (raw.size() > kMaxRawBytes) return fail(why, "longer than 1024 bytes");
  if (raw.front() == '[') {
    if (raw.size() < 3 || raw.back() != ']') return fail(why, "not a valid IPv6 address");
    return normalize_ipv6(raw.substr(1, raw.size() - 2), out, why);
  }
  if (raw.find(':') != std::string_view::npos) return normalize_ipv6(raw, out, why);

  bool ascii = true;
  for (char c : raw) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      ascii = false;
    } else if (byte <= 0x20 || byte == 0x7f) {
      return fail(why, "spaces and control characters not allowed");
    }
  }
  if (ascii) {
    out.text.resize(raw.size());
    std::transform(raw.begin(), raw.end(), out.text.begin(), lower);
  } else {
    // U-labels: IDNA2008 with UTS#46 mapping (case folding, full-width dots), to A-labels.
    std::string input(raw);
    char* converted = nullptr;
    int rc = idn2_lookup_u8(reinterpret_cast<const uint8_t*>(input.c_str()),
                            reinterpret_cast<uint8_t**>(&converted),
                            IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    Idn2String owned(converted);
    if (rc != IDN2_OK || converted == nullptr) {
      return fail(why, std::string("not a valid IDN: ") + idn2_strerror(rc));
    }
    out.text.assign(converted);
    for (char& c : out.text) c = lower(c);
  }
  if (!out.text.empty() && out.text.back() == '.') out.text.pop_back();
  if (out.text.empty()) return fail(why, "empty name");
  if (out.text.size() > kMaxNameBytes) return fail(why, "longer than 253 bytes");
  if (ends_in_number(out.text)) {
    std::uint32_t address;
    if (!parse_ipv4(out.text, address)) {
      return fail(why, "not a valid IPv4 address (a name cannot end in a number)");
    }
    std::uint32_t network = htonl(address);
    return set_ipv4(&network, out) || fail(why, "not a valid IPv4 address");
  }
  return check_labels(out.text, ascii, why);
}

std::optional<Host> normalize_host(std::string_view raw) {
  Host host;
  if (!normalize_host(raw, host)) return std::nullopt;
  return host;
}

}  // namespace mp::hostname
