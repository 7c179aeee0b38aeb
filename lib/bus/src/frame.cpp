#include "mp/bus/frame.h"

#include <capnp/dynamic.h>
#include <capnp/schema.h>
#include <kj/exception.h>
#include <kj/io.h>

#include <cstring>
#include <stdexcept>

namespace mp::bus {

using mp::schema::Envelope;
using mp::schema::Error;

const char* to_string(DecodeError e) {
  switch (e) {
    case DecodeError::none:
      return "none";
    case DecodeError::empty:
      return "empty frame";
    case DecodeError::oversize:
      return "frame larger than the limit";
    case DecodeError::truncated:
      return "truncated frame (not whole words, or shorter than its segment table says)";
    case DecodeError::malformed:
      return "malformed Cap'n Proto message";
  }
  return "?";
}

namespace {

// Cap'n Proto counts each element of a list of zero-sized structs as a word read, so bounding
// the reads by the message's own size stops a few bytes from declaring a million elements
// (amplification) while leaving room for handlers to read every field several times.
capnp::ReaderOptions reader_options(const Limits& limits, std::size_t message_words) {
  capnp::ReaderOptions options;
  options.traversalLimitInWords =
      std::min<std::uint64_t>(limits.traversal_limit_words, message_words * 8 + 1024);
  options.nestingLimit = limits.nesting_limit;
  return options;
}

// The segment table must describe exactly the bytes we have; capnp would otherwise throw
// (or, for trailing bytes, silently ignore them).
bool segment_table_fits(kj::ArrayPtr<const capnp::word> words) {
  if (words.size() == 0) return false;
  const auto* table = reinterpret_cast<const uint32_t*>(words.begin());
  uint64_t segment_count = uint64_t(table[0]) + 1;
  if (segment_count > 512) return false;
  uint64_t table_words = (segment_count + 2) / 2;  // (1 + count) uint32s, rounded up to words
  if (table_words > words.size()) return false;
  uint64_t total = table_words;
  for (uint64_t i = 0; i < segment_count; ++i) total += table[1 + i];
  return total == words.size();
}

DecodeError check_size(std::size_t size, const Limits& limits) {
  if (size == 0) return DecodeError::empty;
  if (size > limits.max_message_bytes) return DecodeError::oversize;
  if (size % sizeof(capnp::word) != 0) return DecodeError::truncated;
  return DecodeError::none;
}

// One full traversal validates every pointer now, so no handler meets a bad one later.
DecodeError validate_words(kj::ArrayPtr<const capnp::word> words, const Limits& limits) {
  if (!segment_table_fits(words)) return DecodeError::truncated;
  try {
    capnp::FlatArrayMessageReader reader(words, reader_options(limits, words.size()));
    reader.getRoot<capnp::AnyStruct>().totalSize();
    (void)reader.getRoot<Envelope>().getHeader().getSource();
  } catch (const kj::Exception&) {
    return DecodeError::malformed;
  }
  return DecodeError::none;
}

bool is_aligned(const void* data) {
  return reinterpret_cast<std::uintptr_t>(data) % alignof(capnp::word) == 0;
}

}  // namespace

std::optional<Incoming> Incoming::decode(zmq::message_t&& frame, const Limits& limits,
                                         DecodeError* error) {
  auto fail = [&](DecodeError e) -> std::optional<Incoming> {
    if (error) *error = e;
    return std::nullopt;
  };
  std::size_t size = frame.size();
  if (auto e = check_size(size, limits); e != DecodeError::none) return fail(e);

  Incoming in;
  kj::ArrayPtr<const capnp::word> words;
  // Small frames live inside the zmq_msg_t itself and move with it: a reader pointing into one
  // would dangle once this Incoming is moved. Copy those, and any unaligned frame.
  constexpr std::size_t kInlineFrameBytes = 64;
  if (is_aligned(frame.data()) && size > kInlineFrameBytes) {
    in.frame_ = std::move(frame);
    words =
        kj::arrayPtr(static_cast<const capnp::word*>(in.frame_.data()), size / sizeof(capnp::word));
  } else {
    // ZeroMQ gives no alignment guarantee; small ipc/tcp frames are often unaligned.
    in.aligned_copy_ = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
    std::memcpy(in.aligned_copy_.begin(), frame.data(), size);
    words = in.aligned_copy_.asPtr();
  }
  if (auto e = validate_words(words, limits); e != DecodeError::none) return fail(e);
  in.reader_ =
      std::make_unique<capnp::FlatArrayMessageReader>(words, reader_options(limits, words.size()));
  if (error) *error = DecodeError::none;
  return std::optional<Incoming>(std::move(in));
}

std::optional<Incoming> Incoming::decode(const void* data, std::size_t size, const Limits& limits,
                                         DecodeError* error) {
  if (size > limits.max_message_bytes) {
    if (error) *error = DecodeError::oversize;
    return std::nullopt;
  }
  return decode(zmq::message_t(data, size), limits, error);
}

DecodeError Incoming::check(const void* data, std::size_t size, const Limits& limits) {
  if (auto e = check_size(size, limits); e != DecodeError::none) return e;
  if (is_aligned(data)) {
    return validate_words(
        kj::arrayPtr(static_cast<const capnp::word*>(data), size / sizeof(capnp::word)), limits);
  }
  auto copy = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
  std::memcpy(copy.begin(), data, size);
  return validate_words(copy.asPtr(), limits);
}

Incoming::Incoming(Incoming&&) noexcept = default;
Incoming& Incoming::operator=(Incoming&&) noexcept = default;
Incoming::~Incoming() = default;

Envelope::Reader Incoming::envelope() const { return reader_->getRoot<Envelope>(); }

std::size_t Incoming::size_bytes() const {
  return aligned_copy_.size() ? aligned_copy_.size() * sizeof(capnp::word) : frame_.size();
}

zmq::message_t Incoming::to_frame() const {
  zmq::message_t out;
  if (aligned_copy_.size() != 0) {
    auto bytes = aligned_copy_.asBytes();
    out.rebuild(bytes.begin(), bytes.size());
  } else {
    out.copy(frame_);
  }
  return out;
}

Incoming Incoming::clone() const {
  Incoming copy;
  // Validated once already: copy without checking again.
  auto bytes = to_frame();
  copy.aligned_copy_ = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(copy.aligned_copy_.begin(), bytes.data(), bytes.size());
  copy.reader_ = std::make_unique<capnp::FlatArrayMessageReader>(copy.aligned_copy_.asPtr(),
                                                                 reader_->getOptions());
  return copy;
}

bool Incoming::is_error() const {
  auto w = which();
  return w == Envelope::ERROR || w == Envelope::UNIMPLEMENTED;
}

Error::Kind Incoming::error_kind() const {
  auto e = envelope();
  if (e.isError()) return e.getError().getKind();
  if (e.isUnimplemented()) return Error::Kind::UNIMPLEMENTED;
  return Error::Kind::UNKNOWN;
}

std::string Incoming::error_text() const {
  auto e = envelope();
  if (e.isError()) return e.getError().getMessage().cStr();
  if (e.isUnimplemented()) {
    return "the service does not implement " + body_name(e.getUnimplemented());
  }
  return {};
}

// 64 words cover almost every bus message; the builder grows for the rest (it zeroes what it
// allocates, so a large first segment costs on every small message).
Outgoing::Outgoing() : message_(64), root_(message_.initRoot<Envelope>()) {}

zmq::message_t Outgoing::to_frame() {
  auto segments = message_.getSegmentsForOutput();
  std::size_t words = capnp::computeSerializedSizeInWords(message_);
  zmq::message_t frame(words * sizeof(capnp::word));
  // zmq_msg_init_size memory comes from malloc: aligned, so we can write words directly.
  kj::ArrayPtr<capnp::word> out(static_cast<capnp::word*>(frame.data()), words);
  kj::ArrayOutputStream stream(out.asBytes());
  capnp::writeMessage(stream, segments);
  return frame;
}

void set_error(Envelope::Builder reply, Error::Kind kind, std::string_view message) {
  auto error = reply.initError();
  error.setKind(kind);
  error.setMessage(kj::StringPtr(std::string(message).c_str()));
}

void copy_body(Envelope::Reader from, Envelope::Builder to) {
  capnp::DynamicStruct::Reader source = capnp::toDynamic(from);
  KJ_IF_MAYBE (field, source.which()) {
    capnp::toDynamic(to).set(*field, source.get(*field));
  }
}

std::vector<std::uint8_t> body_to_bytes(Envelope::Reader envelope) {
  capnp::MallocMessageBuilder message;
  copy_body(envelope, message.initRoot<Envelope>());
  kj::Array<capnp::word> words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return std::vector<std::uint8_t>(bytes.begin(), bytes.end());
}

void body_from_bytes(const std::vector<std::uint8_t>& bytes, Envelope::Builder to,
                     const Limits& limits) {
  DecodeError error;
  auto stored = Incoming::decode(bytes.data(), bytes.size(), limits, &error);
  if (!stored) throw std::invalid_argument(std::string("stored envelope: ") + to_string(error));
  copy_body(stored->envelope(), to);
}

std::string body_name(Envelope::Reader envelope) {
  KJ_IF_MAYBE (field, capnp::toDynamic(envelope).which()) {
    return field->getProto().getName().cStr();
  }
  return "unknown body #" + std::to_string(static_cast<unsigned>(envelope.which()));
}

}  // namespace mp::bus
