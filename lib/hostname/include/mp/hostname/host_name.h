// Host names as web rules compare them. mp-policy normalises its list entries with this and
// mp-webfilter the hosts of requests, so an entry and a request for the same host are the same
// string. The rules:
//   - one trailing dot is removed ("example.com." -> "example.com");
//   - ASCII names are lowercased; names with non-ASCII characters go through IDNA 2008 /
//     UTS #46 (libidn2, non-transitional, which also lowercases) to A-labels
//     ("bücher.de" -> "xn--bcher-kva.de"); an "xn--" label must decode;
//   - a name is labels of 1..63 bytes of [a-z0-9_-], at most 253 bytes;
//   - a name whose last label is a number is an IPv4 address in one of the forms browsers and
//     resolvers accept (WHATWG URL): "3232235777", "0xc0.0xa8.1.1", "0300.0250.1.1",
//     "192.168.257" -> "192.168.1.1"; otherwise it is invalid;
//   - IPv6 literals, with or without brackets, in inet_ntop's canonical form ("2001:db8::1");
//     an IPv4-mapped one ("::ffff:192.168.1.1") is the IPv4 address it maps; no zone ids.
// Pure: no I/O, fuzzable, allocation-free on the success path once `out` has capacity.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mp::hostname {

enum class HostKind { name, ipv4, ipv6 };

struct Host {
  std::string text;  // normalised; IPv6 without brackets
  HostKind kind = HostKind::name;
  bool is_ip() const { return kind != HostKind::name; }
};

// Normalises `raw` (no port) into `out`, reusing its storage. Returns false for anything that is
// not a host; then, if `why` is given, it says why ("empty label", "label longer than 63
// bytes", "character '/' not allowed in a name", ...).
bool normalize_host(std::string_view raw, Host& out, std::string* why = nullptr);
std::optional<Host> normalize_host(std::string_view raw);

}  // namespace mp::hostname
