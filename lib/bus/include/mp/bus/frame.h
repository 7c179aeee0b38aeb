// Framing: the only place that turns bytes from the wire into an Envelope and back.
// Every frame is checked against Limits before anything reads it; frames that are not 8-byte
// aligned are copied first, because capnp 0.9 refuses to read unaligned words.
#pragma once

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/array.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "envelope.capnp.h"

namespace mp::bus {

struct Limits {
  std::size_t max_message_bytes = 1 << 20;                   // also ZMQ_MAXMSGSIZE on every socket
  std::uint64_t traversal_limit_words = (2u << 20) / 8 * 2;  // validation pass + handler reads
  int nesting_limit = 32;
  std::size_t max_topic_bytes = 256;
};

enum class DecodeError { none, empty, oversize, truncated, malformed };
const char* to_string(DecodeError e);

// A validated envelope read from the wire. Owns its bytes (the zmq frame, or an aligned copy).
class Incoming {
 public:
  // Validates the structure once (sizes, segment table, every pointer within bounds and limits).
  // It does not check types against the schema: a typed read of a pointer of the wrong kind can
  // still throw kj::Exception, which the Client's dispatch loop answers as `invalid`.
  // On failure returns nullopt and sets *error.
  static std::optional<Incoming> decode(zmq::message_t&& frame, const Limits& limits,
                                        DecodeError* error = nullptr);
  static std::optional<Incoming> decode(const void* data, std::size_t size, const Limits& limits,
                                        DecodeError* error = nullptr);

  // Validates without keeping anything (the broker checks frames it only forwards).
  static DecodeError check(const void* data, std::size_t size, const Limits& limits);

  Incoming(Incoming&&) noexcept;
  Incoming& operator=(Incoming&&) noexcept;
  ~Incoming();

  mp::schema::Envelope::Reader envelope() const;
  mp::schema::Header::Reader header() const { return envelope().getHeader(); }
  mp::schema::Envelope::Which which() const { return envelope().which(); }
  std::size_t size_bytes() const;
  // The bytes as received, for forwarding (shares the zmq buffer when it can).
  zmq::message_t to_frame() const;
  Incoming clone() const;
  // True if the body is an error or unimplemented echo.
  bool is_error() const;
  // For errors: the kind (unimplemented echoes count as Kind::UNIMPLEMENTED) and text.
  mp::schema::Error::Kind error_kind() const;
  std::string error_text() const;

 private:
  Incoming() = default;
  mutable zmq::message_t frame_;
  kj::Array<capnp::word> aligned_copy_;
  std::unique_ptr<capnp::FlatArrayMessageReader> reader_;
};

// An envelope being built. The client fills the header when it sends.
class Outgoing {
 public:
  Outgoing();
  mp::schema::Envelope::Builder envelope() { return root_; }
  zmq::message_t to_frame();  // serialises (segment table + segments) into one frame

 private:
  capnp::MallocMessageBuilder message_;
  mp::schema::Envelope::Builder root_;
};

// Sets `reply` to an error body.
void set_error(mp::schema::Envelope::Builder reply, mp::schema::Error::Kind kind,
               std::string_view message);

// Copies the body (the active union member) of one envelope into another; headers stay.
void copy_body(mp::schema::Envelope::Reader from, mp::schema::Envelope::Builder to);
// An envelope's body as bytes to keep (e.g. a reply stored for idempotent retries), and back.
// body_from_bytes validates like decode and throws std::invalid_argument on bad bytes.
std::vector<std::uint8_t> body_to_bytes(mp::schema::Envelope::Reader envelope);
void body_from_bytes(const std::vector<std::uint8_t>& bytes, mp::schema::Envelope::Builder to,
                     const Limits& limits = {});

// A short name for the body, e.g. "stationAttach", for logs and errors.
std::string body_name(mp::schema::Envelope::Reader envelope);

}  // namespace mp::bus
