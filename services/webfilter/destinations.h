// Where the proxy connects for a judged host. The host decides, not the address the client
// aimed at: a redirected client can put an allowed name (SNI, Host) in front of any server, so
// the transparent listener connects to an address the name resolves to, and to the client's
// original destination only when it is one of them.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <vector>

namespace mp::webfilter {

// The addresses to try, in order, each with `port`: `resolved` (the name's addresses); with an
// `original` destination (transparent listener), that one first if it is among them.
std::vector<sockaddr_storage> destinations_for(const std::vector<sockaddr_storage>& resolved,
                                               std::uint16_t port,
                                               const sockaddr_storage* original);

}  // namespace mp::webfilter
