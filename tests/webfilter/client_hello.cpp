#include "client_hello.h"

#include <algorithm>

namespace mp::webfilter::test {

namespace {

void u16(std::string& s, std::size_t v) {
  s.push_back(static_cast<char>((v >> 8) & 0xff));
  s.push_back(static_cast<char>(v & 0xff));
}

void extension(std::string& extensions, std::size_t type, const std::string& body) {
  u16(extensions, type);
  u16(extensions, body.size());
  extensions += body;
}

// An outer encrypted_client_hello: type 0 (outer), HPKE KDF and AEAD ids, a config id, an
// encapsulated key and a payload. Random-looking bytes, as GREASE ECH sends too.
std::string ech_outer() {
  std::string body;
  body.push_back('\0');                     // ClientHelloOuter
  u16(body, 0x0001);                        // HKDF-SHA256
  u16(body, 0x0001);                        // AES-128-GCM
  body.push_back(static_cast<char>(0x42));  // config_id
  std::string enc(32, '\x11');
  u16(body, enc.size());
  body += enc;
  std::string payload(144, '\x5a');
  u16(body, payload.size());
  body += payload;
  return body;
}

}  // namespace

std::string client_hello(const std::string& server_name, std::size_t record_size,
                         std::size_t padding, bool encrypted_client_hello) {
  std::string extensions;
  if (!server_name.empty()) {
    std::string list;
    list.push_back('\0');  // host_name
    u16(list, server_name.size());
    list += server_name;
    std::string ext;
    u16(ext, list.size());
    ext += list;
    extension(extensions, 0, ext);  // server_name
  }
  extension(extensions, 43, std::string("\x04\x03\x04\x03\x03", 5));  // TLS 1.3, 1.2
  if (encrypted_client_hello) extension(extensions, 0xfe0d, ech_outer());
  if (padding > 0) extension(extensions, 21, std::string(padding, '\0'));
  std::string body;
  body += std::string("\x03\x03", 2);
  for (int i = 0; i < 32; ++i) body.push_back(static_cast<char>(i * 7));
  body.push_back(32);
  for (int i = 0; i < 32; ++i) body.push_back(static_cast<char>(0xA0 + i));
  u16(body, 4);
  body += std::string("\x13\x01\x13\x02", 4);
  body += std::string("\x01\x00", 2);
  u16(body, extensions.size());
  body += extensions;
  std::string handshake;
  handshake.push_back(1);
  handshake.push_back(static_cast<char>((body.size() >> 16) & 0xff));
  u16(handshake, body.size() & 0xffff);
  handshake += body;
  std::string records;
  for (std::size_t at = 0; at < handshake.size(); at += record_size) {
    std::size_t n = std::min(record_size, handshake.size() - at);
    records += std::string("\x16\x03\x01", 3);
    u16(records, n);
    records += handshake.substr(at, n);
  }
  return records;
}

}  // namespace mp::webfilter::test
