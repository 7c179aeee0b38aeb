// TLS ClientHellos made by hand, for the parser's tests and for clients that only need the
// proxy to read a hello (no real TLS follows).
#pragma once

#include <cstddef>
#include <string>

namespace mp::webfilter::test {

// A ClientHello with `server_name` (none if empty), split into TLS records of at most
// `record_size` bytes of handshake each; `padding` bytes of a padding extension;
// `encrypted_client_hello`: with an ECH extension (outer type, as browsers send it).
std::string client_hello(const std::string& server_name, std::size_t record_size = 16384,
                         std::size_t padding = 0, bool encrypted_client_hello = false);

}  // namespace mp::webfilter::test
