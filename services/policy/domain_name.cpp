#include "domain_name.h"

#include <arpa/inet.h>
#include <idn2.h>

#include <cstdlib>
#include <memory>

namespace mp::policy {

namespace {

constexpr std::size_t kMaxInputBytes = 1024;
constexpr std::size_t kMaxNameBytes = 253;
constexpr std::size_t kMaxLabelBytes = 63;

struct FreeIdn2 {
  void operator()(char* p) const { idn2_free(p); }
};
using Idn2String = std::unique_ptr<char, FreeIdn2>;

bool is_ascii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

NormalisedDomain refuse(std::string reason) { return NormalisedDomain{{}, std::move(reason)}; }

// Checks the label rules on an ASCII, lowercased name; returns the reason or empty.
std::string check_labels(std::string_view name) {
  if (name.empty()) return "empty name";
  if (name.size() > kMaxNameBytes) return "longer than 253 bytes";
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = name.find('.', start);
    if (end == std::string_view::npos) end = name.size();
    std::string_view label = name.substr(start, end - start);
    if (label.empty()) return "empty label";
    if (label.size() > kMaxLabelBytes) return "label longer than 63 bytes";
    for (char c : label) {
      if (!label_char(c)) return std::string("character '") + c + "' not allowed in a name";
    }
    if (label.starts_with("xn--")) {
      // An A-label must decode; a wrong one would never match any host.
      char* decoded = nullptr;
      std::string text(label);
      int rc = idn2_to_unicode_8z8z(text.c_str(), &decoded, 0);
      Idn2String owned(decoded);
      if (rc != IDN2_OK) return "bad IDNA label '" + text + "': " + idn2_strerror(rc);
    }
    start = end + 1;
  }
  return {};
}

}  // namespace

std::string canonical_ip_literal(std::string_view text) {
  if (text.size() > 64) return {};
  std::string plain(text);
  bool bracketed = plain.size() >= 2 && plain.front() == '[' && plain.back() == ']';
  if (bracketed) plain = plain.substr(1, plain.size() - 2);
  char out[INET6_ADDRSTRLEN] = {};
  unsigned char bytes[16];
  if (!bracketed && inet_pton(AF_INET, plain.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET, bytes, out, sizeof out) ? std::string(out) : std::string();
  }
  if (inet_pton(AF_INET6, plain.c_str(), bytes) == 1) {
    return inet_ntop(AF_INET6, bytes, out, sizeof out) ? std::string(out) : std::string();
  }
  return {};
}

NormalisedDomain normalise_domain(std::string_view input, bool allow_ip_literal) {
  if (input.empty()) return refuse("empty name");
  if (input.size() > kMaxInputBytes) return refuse("longer than 1024 bytes");
  for (char c : input) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return refuse("spaces and control characters not allowed");
  }
  bool wildcard = input.starts_with("*.");
  std::string_view rest = wildcard ? input.substr(2) : input;
  if (rest.find('*') != std::string_view::npos) {
    return refuse("'*' is only allowed as a leading \"*.\"");
  }

  if (std::string ip = canonical_ip_literal(rest); !ip.empty()) {
    if (wildcard) return refuse("an IP address cannot take a wildcard");
    if (!allow_ip_literal) return refuse("IP addresses are only allowed in block lists");
    return NormalisedDomain{std::move(ip), {}};
  }

  if (rest.ends_with('.')) rest.remove_suffix(1);
  if (rest.empty()) return refuse("empty name");

  std::string name;
  if (is_ascii(rest)) {
    name.reserve(rest.size());
    for (char c : rest) name.push_back(lower(c));
  } else {
    char* converted = nullptr;
    std::string text(rest);
    int rc = idn2_to_ascii_8z(text.c_str(), &converted, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
    Idn2String owned(converted);
    if (rc != IDN2_OK) return refuse(std::string("not a valid IDN: ") + idn2_strerror(rc));
    for (const char* p = converted; *p; ++p) name.push_back(lower(*p));
  }
  if (std::string reason = check_labels(name); !reason.empty()) return refuse(reason);
  return NormalisedDomain{wildcard ? "*." + name : name, {}};
}

}  // namespace mp::policy
