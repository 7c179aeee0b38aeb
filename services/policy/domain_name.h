// Domain names in web lists, normalised so that a list entry and a request's host compare as
// plain strings. Hosts are normalised by the one normaliser mp-webfilter also uses
// (lib/hostname: lowercase, one trailing dot removed, IDNA 2008 A-labels, IPv4 in every form
// browsers accept as a dotted quad, IPv6 canonical). On top of it, for list entries:
//   1. surrounding text is not trimmed: whitespace or control characters anywhere are refused;
//   2. a leading "*." marks a wildcard (the name and every subdomain); "*" anywhere else is
//   refused;
//   3. IP literals are kept in canonical form ("3232235777" -> "192.168.1.1") where the caller
//      allows them (block lists), and never take a wildcard.
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

// The canonical text of an IP literal in any accepted spelling ("[::1]" -> "::1",
// "3232235777" -> "192.168.1.1"), or empty if `text` is not one.
std::string canonical_ip_literal(std::string_view text);

}  // namespace mp::policy
