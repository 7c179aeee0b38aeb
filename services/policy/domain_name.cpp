#include "domain_name.h"

#include "mp/hostname/host_name.h"

namespace mp::policy {

namespace {

constexpr std::size_t kMaxInputBytes = 1024;

NormalisedDomain refuse(std::string reason) { return NormalisedDomain{{}, std::move(reason)}; }

}  // namespace

std::string canonical_ip_literal(std::string_view text) {
  mp::hostname::Host host;
  if (!mp::hostname::normalize_host(text, host) || !host.is_ip()) return {};
  return std::move(host.text);
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
  mp::hostname::Host host;
  std::string why;
  if (!mp::hostname::normalize_host(rest, host, &why)) return refuse(std::move(why));
  if (host.is_ip()) {
    if (wildcard) return refuse("an IP address cannot take a wildcard");
    if (!allow_ip_literal) return refuse("IP addresses are only allowed in block lists");
    return NormalisedDomain{std::move(host.text), {}};
  }
  return NormalisedDomain{wildcard ? "*." + host.text : std::move(host.text), {}};
}

}  // namespace mp::policy
