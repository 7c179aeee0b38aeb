// The server name (SNI) of a TLS ClientHello, read from the first bytes a client sends,
// possibly split across TCP segments and across TLS records, with hard size limits; and whether
// the hello hides its real server name with Encrypted Client Hello. Pure.
#pragma once

#include <cstddef>
#include <cstdint>
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

// TLS extension encrypted_client_hello (ECH, RFC 9849): the SNI in sight is only the outer,
// public name of the provider; the real one is encrypted.
inline constexpr std::uint16_t kEncryptedClientHelloExtension = 0xfe0d;

struct ClientHello {
  std::string server_name;              // on ok: the host_name as sent
  bool encrypted_client_hello = false;  // carries the ECH extension (outer or GREASE alike)
};

// `data` is everything the client sent so far.
HelloStatus parse_client_hello(std::string_view data, ClientHello& hello);
// The same, when only the name matters.
HelloStatus parse_client_hello(std::string_view data, std::string& server_name);

}  // namespace mp::webfilter
