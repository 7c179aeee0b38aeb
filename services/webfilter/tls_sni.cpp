#include "tls_sni.h"

#include <cstdint>

namespace mp::webfilter {

namespace {

constexpr std::uint8_t kHandshakeRecord = 0x16;
constexpr std::uint8_t kClientHello = 1;
constexpr std::size_t kRecordHeader = 5;
constexpr std::size_t kMaxRecordPayload = 16384 + 2048;  // 2^14 plaintext, some slack
constexpr std::uint16_t kServerNameExtension = 0;
constexpr std::uint8_t kHostName = 0;

// A bounds-checked big-endian cursor.
class Cursor {
 public:
  Cursor(const std::uint8_t* data, std::size_t size) : p_(data), left_(size) {}
  std::size_t left() const { return left_; }
  bool u8(std::uint8_t& v) {
    if (left_ < 1) return false;
    v = p_[0];
    advance(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (left_ < 2) return false;
    v = static_cast<std::uint16_t>(p_[0] << 8 | p_[1]);
    advance(2);
    return true;
  }
  bool skip(std::size_t n) {
    if (left_ < n) return false;
    advance(n);
    return true;
  }
  // A sub-cursor over the next n bytes.
  bool take(std::size_t n, Cursor& out) {
    if (left_ < n) return false;
    out = Cursor(p_, n);
    advance(n);
    return true;
  }
  const std::uint8_t* data() const { return p_; }

 private:
  void advance(std::size_t n) {
    p_ += n;
    left_ -= n;
  }
  const std::uint8_t* p_;
  std::size_t left_;
};

std::size_t be16(const unsigned char* p) { return static_cast<std::size_t>(p[0] << 8 | p[1]); }

HelloStatus read_server_name(Cursor ext, std::string& server_name) {
  std::uint16_t list_size;
  Cursor list(nullptr, 0);
  if (!ext.u16(list_size) || !ext.take(list_size, list) || ext.left() != 0 || list_size == 0) {
    return HelloStatus::malformed;
  }
  bool found = false;
  while (list.left() > 0) {
    std::uint8_t type;
    std::uint16_t size;
    Cursor name(nullptr, 0);
    if (!list.u8(type) || !list.u16(size) || !list.take(size, name)) return HelloStatus::malformed;
    if (type != kHostName) continue;
    if (found || size == 0 || size > 255) return HelloStatus::malformed;
    for (std::size_t i = 0; i < size; ++i) {
      std::uint8_t c = name.data()[i];
      if (c <= 0x20 || c >= 0x7f) return HelloStatus::malformed;
    }
    server_name.assign(reinterpret_cast<const char*>(name.data()), size);
    found = true;
  }
  return found ? HelloStatus::ok : HelloStatus::no_sni;
}

HelloStatus read_client_hello(Cursor body, ClientHello& hello) {
  std::uint8_t major, minor, session_id_size, compression_size;
  std::uint16_t suites_size;
  if (!body.u8(major) || !body.u8(minor) || major != 3) return HelloStatus::malformed;
  if (!body.skip(32)) return HelloStatus::malformed;  // random
  if (!body.u8(session_id_size) || session_id_size > 32 || !body.skip(session_id_size)) {
    return HelloStatus::malformed;
  }
  if (!body.u16(suites_size) || suites_size < 2 || suites_size % 2 != 0 ||
      !body.skip(suites_size)) {
    return HelloStatus::malformed;
  }
  if (!body.u8(compression_size) || compression_size < 1 || !body.skip(compression_size)) {
    return HelloStatus::malformed;
  }
  if (body.left() == 0) return HelloStatus::no_sni;  // no extensions at all
  std::uint16_t extensions_size;
  Cursor extensions(nullptr, 0);
  if (!body.u16(extensions_size) || !body.take(extensions_size, extensions) || body.left() != 0) {
    return HelloStatus::malformed;
  }
  HelloStatus result = HelloStatus::no_sni;
  bool seen_server_name = false;
  while (extensions.left() > 0) {
    std::uint16_t type, size;
    Cursor ext(nullptr, 0);
    if (!extensions.u16(type) || !extensions.u16(size) || !extensions.take(size, ext)) {
      return HelloStatus::malformed;
    }
    if (type == kEncryptedClientHelloExtension) {
      if (hello.encrypted_client_hello) return HelloStatus::malformed;  // duplicate extension
      hello.encrypted_client_hello = true;
      continue;
    }
    if (type != kServerNameExtension) continue;
    if (seen_server_name) return HelloStatus::malformed;  // duplicate extension
    seen_server_name = true;
    result = read_server_name(ext, hello.server_name);
    if (result == HelloStatus::malformed) return result;
  }
  return result;
}

}  // namespace

const char* to_string(HelloStatus status) {
  switch (status) {
    case HelloStatus::need_more:
      return "incomplete ClientHello";
    case HelloStatus::ok:
      return "ClientHello with a server name";
    case HelloStatus::no_sni:
      return "ClientHello without a server name";
    case HelloStatus::not_tls:
      return "not TLS";
    case HelloStatus::malformed:
      return "malformed ClientHello";
    case HelloStatus::too_large:
      return "ClientHello too large";
  }
  return "?";
}

HelloStatus parse_client_hello(std::string_view data, std::string& server_name) {
  ClientHello hello;
  HelloStatus status = parse_client_hello(data, hello);
  server_name = std::move(hello.server_name);
  return status;
}

HelloStatus parse_client_hello(std::string_view data, ClientHello& hello) {
  hello.server_name.clear();
  hello.encrypted_client_hello = false;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  // Refuse garbage on the first bytes rather than waiting for a record that never comes.
  if (data.size() >= 1 && bytes[0] != kHandshakeRecord) return HelloStatus::not_tls;
  if (data.size() >= 2 && bytes[1] != 3) return HelloStatus::not_tls;
  if (data.size() >= 3 && bytes[2] > 4) return HelloStatus::not_tls;

  // Gather the handshake message from as many records as it spans.
  std::string handshake;
  std::size_t pos = 0;
  std::size_t message_size = 0;  // known once 4 handshake bytes are in
  while (true) {
    if (pos >= kMaxClientHelloBytes) return HelloStatus::too_large;
    if (data.size() - pos < kRecordHeader) {
      return data.size() >= kMaxClientHelloBytes ? HelloStatus::too_large : HelloStatus::need_more;
    }
    const unsigned char* record = bytes + pos;
    if (record[0] != kHandshakeRecord || record[1] != 3) return HelloStatus::malformed;
    std::size_t payload = be16(record + 3);
    if (payload == 0 || payload > kMaxRecordPayload) return HelloStatus::malformed;
    if (pos + kRecordHeader + payload > kMaxClientHelloBytes) return HelloStatus::too_large;
    if (data.size() - pos - kRecordHeader < payload) return HelloStatus::need_more;
    handshake.append(data.substr(pos + kRecordHeader, payload));
    pos += kRecordHeader + payload;
    if (handshake.size() >= 4) {
      const auto* h = reinterpret_cast<const unsigned char*>(handshake.data());
      if (h[0] != kClientHello) return HelloStatus::malformed;
      message_size =
          static_cast<std::size_t>(h[1]) << 16 | static_cast<std::size_t>(h[2]) << 8 | h[3];
      if (message_size + 4 > kMaxClientHelloBytes) return HelloStatus::too_large;
      if (handshake.size() >= message_size + 4) break;
    }
  }
  Cursor body(reinterpret_cast<const std::uint8_t*>(handshake.data()) + 4, message_size);
  return read_client_hello(body, hello);
}

}  // namespace mp::webfilter
