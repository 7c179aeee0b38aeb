// Our RLGR coder against FreeRDP's: the same bits for every kind of coefficient stream.
#include <freerdp/codec/rfx.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "rlgr_encoder.h"

namespace mp::rdp {
namespace {

// FreeRDP pads its last byte oddly (sometimes one zero byte more): compare our bytes with its
// prefix and require the rest of its output to be zero.
void expect_same_bits_as_freerdp(Rlgr mode, const std::vector<std::int16_t>& input) {
  RFX_CONTEXT* context = rfx_context_new(TRUE);
  std::vector<std::uint8_t> theirs(65536, 0), ours(65536, 0xAA);
  int their_length = context->rlgr_encode(mode == Rlgr::rlgr1 ? RLGR1 : RLGR3, input.data(),
                                          static_cast<UINT32>(input.size()), theirs.data(),
                                          static_cast<UINT32>(theirs.size()));
  std::size_t our_length = rlgr_encode(mode, input.data(), input.size(), ours.data(), ours.size());
  rfx_context_free(context);
  ASSERT_GT(our_length, 0u);
  ASSERT_GE(static_cast<std::size_t>(their_length), our_length);
  ASSERT_LE(static_cast<std::size_t>(their_length), our_length + 1);
  for (std::size_t i = 0; i < our_length; ++i) ASSERT_EQ(ours[i], theirs[i]) << "byte " << i;
  for (std::size_t i = our_length; i < static_cast<std::size_t>(their_length); ++i) {
    ASSERT_EQ(theirs[i], 0) << "byte " << i;
  }
  EXPECT_EQ(ours[our_length], 0xAA) << "wrote past its length";
}

std::vector<std::int16_t> coefficients(std::mt19937& random, std::size_t count, double zero_share,
                                       int magnitude) {
  std::bernoulli_distribution zero(zero_share);
  std::uniform_int_distribution<int> value(-magnitude, magnitude);
  std::vector<std::int16_t> v(count);
  for (auto& c : v) c = zero(random) ? 0 : static_cast<std::int16_t>(value(random));
  return v;
}

TEST(RlgrEncoder, MakesFreeRdpsBitsForSparseDenseAndLargeCoefficients) {
  std::mt19937 random(7);
  for (Rlgr mode : {Rlgr::rlgr1, Rlgr::rlgr3}) {
    for (double zero_share : {0.0, 0.5, 0.9, 0.99}) {
      for (int magnitude : {1, 3, 40, 2000, 32767}) {
        for (int round = 0; round < 5; ++round) {
          SCOPED_TRACE(testing::Message() << "mode " << int(mode) << " zeros " << zero_share
                                          << " magnitude " << magnitude);
          expect_same_bits_as_freerdp(mode, coefficients(random, 4096, zero_share, magnitude));
        }
      }
    }
  }
}

TEST(RlgrEncoder, MakesFreeRdpsBitsAtTheEdges) {
  for (Rlgr mode : {Rlgr::rlgr1, Rlgr::rlgr3}) {
    expect_same_bits_as_freerdp(mode, std::vector<std::int16_t>(4096, 0));  // ends inside a run
    expect_same_bits_as_freerdp(mode, {5});
    expect_same_bits_as_freerdp(mode, {0});
    expect_same_bits_as_freerdp(mode, {0, 0, 0, -1, 2, 0, 3});  // odd count for RLGR3 pairs
    std::vector<std::int16_t> extremes(4096);
    for (std::size_t i = 0; i < extremes.size(); ++i) extremes[i] = i % 2 ? -32768 : 32767;
    expect_same_bits_as_freerdp(mode, extremes);
  }
}

TEST(RlgrEncoder, NeverWritesPastItsCapacity) {
  std::mt19937 random(11);
  auto input = coefficients(random, 4096, 0.0, 32767);
  std::vector<std::uint8_t> out(1000 + 16, 0xAA);
  std::size_t length = rlgr_encode(Rlgr::rlgr3, input.data(), input.size(), out.data(), 1000);
  EXPECT_EQ(length, 1000u);
  for (std::size_t i = 1000; i < out.size(); ++i) EXPECT_EQ(out[i], 0xAA);
}

}  // namespace
}  // namespace mp::rdp
