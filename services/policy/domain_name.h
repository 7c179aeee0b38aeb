// Domain names in web lists, normalised so that a list entry and a request's host compare as
// plain strings. The rules (mp-webfilter applies the same ones to the hosts it sees):
//   1. surrounding text is not trimmed: whitespace or control characters anywhere are refused;
//   2. a leading "*." marks a wildcard (the name and every subdomain); "*" anywhere else is
//   refused;
//   3. one trailing dot is removed ("example.com." -> "example.com");
//   4. IP literals (dotted IPv4, IPv6 with or without brackets) are kept in their canonical
//      inet_ntop form, where the caller allows them (block lists), and never take a wildcard;
//   5. names with non-ASCII characters go through IDNA 2008 / UTS #46 (libidn2, non-transitional
//      mapping, which also lowercases) to A-labels ("bücher.de" -> "xn--bcher-kva.de"); ASCII
//      names are lowercased, and "xn--" labels must decode;
//   6. the result has labels of 1..63 bytes of [a-z0-9_-], at most 253 bytes without "*.".
#pragma once

#include <string>
#include <string_view>

namespace mp::policy {

struct NormalisedDomain {
  std::string domain;  // the normalised name, "*." kept; empty when refused
  std::string error;   // why it was refused; empty when accepted
  bool ok() const { return error.empty(); }
};

// `allow_ip_literal`: whether an IP address is an acceptable entry (true for block lists).
NormalisedDomain normalise_domain(std::string_view input, bool allow_ip_literal);

// The canonical text of an IP literal ("[::1]" -> "::1"), or empty if `text` is not one.
std::string canonical_ip_literal(std::string_view text);

}  // namespace mp::policy
