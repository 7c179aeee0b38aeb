// Our tile DWT against FreeRDP's: the same coefficients for any input.
#include <freerdp/codec/rfx.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>

#include "dwt_encoder.h"

namespace mp::rdp {
namespace {

struct alignas(16) Tile {
  std::int16_t v[4096];
};

void expect_same_as_freerdp(const Tile& input) {
  RFX_CONTEXT* context = rfx_context_new(TRUE);
  auto theirs = std::make_unique<Tile>(input), ours = std::make_unique<Tile>(input);
  auto scratch = std::make_unique<Tile>();
  context->dwt_2d_encode(theirs->v, scratch->v);
  dwt_2d_encode(ours->v, scratch->v);
  rfx_context_free(context);
  for (int i = 0; i < 4096; ++i) ASSERT_EQ(ours->v[i], theirs->v[i]) << "coefficient " << i;
}

TEST(DwtEncoder, GivesFreeRdpsCoefficients) {
  std::mt19937 random(3);
  for (int range : {255, 4096, 32767}) {  // pixels, YCbCr values, and overflowing extremes
    std::uniform_int_distribution<int> value(-range, range);
    for (int round = 0; round < 20; ++round) {
      Tile tile;
      for (auto& v : tile.v) v = static_cast<std::int16_t>(value(random));
      SCOPED_TRACE(testing::Message() << "range " << range << " round " << round);
      expect_same_as_freerdp(tile);
    }
  }
}

TEST(DwtEncoder, GivesFreeRdpsCoefficientsForSmoothAndFlatTiles) {
  Tile gradient, flat, stripes;
  for (int i = 0; i < 4096; ++i) {
    gradient.v[i] = static_cast<std::int16_t>((i % 64) * 40 - 1300 + (i / 64) * 7);
    flat.v[i] = -700;
    stripes.v[i] = static_cast<std::int16_t>(((i % 64) / 3 % 2) ? 3000 : -3000);
  }
  expect_same_as_freerdp(gradient);
  expect_same_as_freerdp(flat);
  expect_same_as_freerdp(stripes);
}

}  // namespace
}  // namespace mp::rdp
