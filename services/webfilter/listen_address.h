// Where the proxy listens: "127.0.0.1:3128", "[::1]:3129" (port 0: any free port), lists of
// them as flags give them, and binding a listening socket.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

namespace mp::webfilter {

// "ADDRESS:PORT" with a numeric IPv4 address or a bracketed IPv6 one; false for anything else.
bool parse_listen_address(const std::string& text, sockaddr_storage& address);

// Flag values that may each be a comma-separated list; empty entries are dropped, so a single
// "" means none.
std::vector<std::string> split_listen_list(const std::vector<std::string>& values);

// A non-blocking, close-on-exec listening socket on `text` (IPv6 ones only for IPv6); `bound`
// gets the address with the port the kernel gave. Throws std::system_error: EINVAL for a
// malformed address, else the bind or listen error.
int bind_listener(const std::string& text, sockaddr_storage& bound);

}  // namespace mp::webfilter
