// The server name (SNI) of a TLS ClientHello, read from the first bytes a client sends,
// possibly split across TCP segments and across TLS records, with hard size limits. Pure.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mp::webfilter {

enum class HelloStatus {
  need_more,  // a prefix of a plausible ClientHello: read more
  ok,         // a ClientHello with exactly one host_name
  no_sni,     // a well-formed ClientHello without a server name
  not_tls,    // the first bytes are not a TLS handshake record
  malformed,  // looked like TLS, but the ClientHello is broken
  too_large,  // beyond kMaxClientHelloBytes
};

const char* to_string(HelloStatus status);

// The most a ClientHello may take on the wire (records included) before it is refused.
inline constexpr std::size_t kMaxClientHelloBytes = 32 * 1024;

// `data` is everything the client sent so far. On ok, `server_name` holds the name as sent.
HelloStatus parse_client_hello(std::string_view data, std::string& server_name);

}  // namespace mp::webfilter
