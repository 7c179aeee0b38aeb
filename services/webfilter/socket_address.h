// IPv4/IPv6 socket addresses as the proxy handles them: parsed from numeric text, compared,
// classified (loopback, unspecified), printed. Pure apart from inet_pton/inet_ntop.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

#include "host_rules.h"

namespace mp::webfilter {

// Parses a numeric IPv4 or IPv6 address (no brackets, no zone) with `port` into `out`.
bool parse_numeric_address(const std::string& text, std::uint16_t port, sockaddr_storage& out);

// Same family, address and port.
bool same_address(const sockaddr_storage& a, const sockaddr_storage& b);
// Same family and address; ports are not compared.
bool same_ip(const sockaddr_storage& a, const sockaddr_storage& b);

void set_port(sockaddr_storage& a, std::uint16_t port);
std::uint16_t port_of(const sockaddr_storage& a);
socklen_t length_of(const sockaddr_storage& a);

// The address without its port, as an IP Host ("192.0.2.1", "2001:db8::1").
void address_host(const sockaddr_storage& a, Host& host);
// "192.0.2.1:80", "[2001:db8::1]:443".
std::string to_string(const sockaddr_storage& a);

// 127.0.0.0/8, ::1, and IPv4-mapped 127.0.0.0/8.
bool is_loopback(const sockaddr_storage& a);
// 0.0.0.0, ::, and IPv4-mapped 0.0.0.0.
bool is_unspecified(const sockaddr_storage& a);

}  // namespace mp::webfilter
