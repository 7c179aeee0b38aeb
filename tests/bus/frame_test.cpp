#include <capnp/any.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "mp/bus/frame.h"

namespace mp::bus {
namespace {

using mp::schema::Envelope;

zmq::message_t sample_frame() {
  Outgoing out;
  auto e = out.envelope();
  auto h = e.initHeader();
  h.setSource("session");
  h.setIncarnation(0x1234);
  h.setSequence(7);
  h.setCorrelationId(42);
  h.setSentAtNs(1'700'000'000'000'000'000);
  h.setIdempotencyKey("k-1");
  auto attach = e.initStationAttach().initStation();
  attach.setKey("rdp:lab-01");
  attach.setTransport("rdp");
  attach.initCapabilities().setWidth(1920);
  return out.to_frame();
}

TEST(Frame, EnvelopeRoundTripKeepsHeaderAndBody) {
  auto in = Incoming::decode(sample_frame(), Limits{});
  ASSERT_TRUE(in);
  auto h = in->header();
  EXPECT_EQ(std::string(h.getSource()), "session");
  EXPECT_EQ(h.getIncarnation(), 0x1234u);
  EXPECT_EQ(h.getSequence(), 7u);
  EXPECT_EQ(h.getCorrelationId(), 42u);
  EXPECT_EQ(h.getSentAtNs(), 1'700'000'000'000'000'000);
  EXPECT_EQ(std::string(h.getIdempotencyKey()), "k-1");
  ASSERT_EQ(in->which(), Envelope::STATION_ATTACH);
  auto station = in->envelope().getStationAttach().getStation();
  EXPECT_EQ(std::string(station.getKey()), "rdp:lab-01");
  EXPECT_EQ(station.getCapabilities().getWidth(), 1920);
  EXPECT_EQ(body_name(in->envelope()), "stationAttach");
}

TEST(Frame, UnalignedFrameIsCopiedAndRead) {
  zmq::message_t frame = sample_frame();
  // A buffer whose payload starts at an odd address, handed to ZeroMQ without a copy.
  auto* storage = static_cast<char*>(std::malloc(frame.size() + 1));
  std::memcpy(storage + 1, frame.data(), frame.size());
  zmq::message_t unaligned(
      storage + 1, frame.size(), [](void*, void* hint) { std::free(hint); }, storage);
  ASSERT_NE(reinterpret_cast<std::uintptr_t>(unaligned.data()) % 8, 0u);
  EXPECT_EQ(Incoming::check(unaligned.data(), unaligned.size(), Limits{}), DecodeError::none);
  auto in = Incoming::decode(std::move(unaligned), Limits{});
  ASSERT_TRUE(in);
  EXPECT_EQ(std::string(in->envelope().getStationAttach().getStation().getKey()), "rdp:lab-01");
}

TEST(Frame, SmallFrameSurvivesBeingMoved) {
  // ZeroMQ keeps frames of up to 33 bytes inside the message object; a reader pointing there
  // would dangle once the Incoming moves (found by the envelope fuzzer).
  // One segment of two words: a root struct with one data word and no pointers.
  alignas(8) const std::uint8_t bytes[24] = {0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                                             1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0};
  capnp::FlatArrayMessageReader direct(
      kj::arrayPtr(reinterpret_cast<const capnp::word*>(bytes), 3));
  auto expected = direct.getRoot<Envelope>().which();
  auto first = Incoming::decode(zmq::message_t(bytes, sizeof bytes), Limits{});
  ASSERT_TRUE(first);
  std::vector<Incoming> moved;
  moved.push_back(std::move(*first));
  first.reset();
  EXPECT_EQ(moved.front().which(), expected);
  EXPECT_FALSE(moved.front().envelope().hasHeader());
}

TEST(Frame, OversizeFrameIsRejected) {
  Outgoing out;
  out.envelope().initHeader().setSource("x");
  out.envelope().initProbe(4096);
  Limits limits;
  limits.max_message_bytes = 1024;
  DecodeError error;
  EXPECT_FALSE(Incoming::decode(out.to_frame(), limits, &error));
  EXPECT_EQ(error, DecodeError::oversize);
}

TEST(Frame, TruncatedFramesAreRejected) {
  zmq::message_t whole = sample_frame();
  for (std::size_t cut : {whole.size() - 1, whole.size() - 8, std::size_t{8}, std::size_t{4}}) {
    DecodeError error;
    EXPECT_FALSE(Incoming::decode(whole.data(), cut, Limits{}, &error)) << "cut at " << cut;
    EXPECT_EQ(error, DecodeError::truncated) << "cut at " << cut;
  }
  DecodeError error;
  EXPECT_FALSE(Incoming::decode(whole.data(), 0, Limits{}, &error));
  EXPECT_EQ(error, DecodeError::empty);
}

TEST(Frame, GarbageNeverDecodesOrCrashes) {
  std::mt19937 random(7);
  int decoded = 0;
  for (int i = 0; i < 5000; ++i) {
    std::vector<std::uint64_t> words(1 + random() % 16);
    for (auto& w : words) w = (std::uint64_t(random()) << 32) | random();
    // Keep the segment table plausible half of the time, so the traversal is exercised.
    if (i % 2 == 0) {
      auto* table = reinterpret_cast<std::uint32_t*>(words.data());
      table[0] = 0;
      table[1] = static_cast<std::uint32_t>(words.size() - 1);
    }
    auto in = Incoming::decode(words.data(), words.size() * 8, Limits{});
    if (in) {
      ++decoded;
      (void)body_name(in->envelope());
    }
  }
  SUCCEED() << decoded << " random inputs happened to be valid envelopes";
}

TEST(Frame, DeepNestingIsRejected) {
  // An envelope nested in `unimplemented` echoes past the nesting limit.
  capnp::MallocMessageBuilder message;
  auto e = message.initRoot<Envelope>();
  for (int i = 0; i < 40; ++i) e = e.initUnimplemented();
  e.initHeader().setSource("deep");
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  DecodeError error;
  EXPECT_FALSE(Incoming::decode(bytes.begin(), bytes.size(), Limits{}, &error));
  EXPECT_EQ(error, DecodeError::malformed);
}

}  // namespace
}  // namespace mp::bus
