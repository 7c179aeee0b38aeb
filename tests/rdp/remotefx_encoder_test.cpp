// mp-rdp's own RemoteFX tile encoder against FreeRDP's decoder and FreeRDP's encoder.
#include <freerdp/codec/color.h>
#include <freerdp/codec/region.h>
#include <freerdp/codec/rfx.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "remotefx_encoder.h"

namespace mp::rdp {
namespace {

// A frame with smooth areas, hard edges and noise, so every band of the DWT has work.
std::vector<std::uint8_t> test_frame(int width, int height) {
  std::vector<std::uint8_t> frame(static_cast<std::size_t>(width) * height * 4);
  std::uint32_t noise = 12345;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      std::uint8_t* p = &frame[(static_cast<std::size_t>(y) * width + x) * 4];
      noise = noise * 1103515245 + 12345;
      bool box = x > width / 3 && x < width / 2 && y > 10 && y < height - 10;
      p[0] = static_cast<std::uint8_t>(box ? 250 : x * 255 / width);       // B
      p[1] = static_cast<std::uint8_t>(box ? 20 : y * 255 / height);       // G
      p[2] = static_cast<std::uint8_t>((x ^ y) & 8 ? (noise >> 24) : 90);  // R
      p[3] = 0xff;
    }
  }
  return frame;
}

struct Decoder {
  Decoder(int width, int height) : width(width), height(height) {
    context = rfx_context_new(FALSE);
    rfx_context_reset(context, width, height);
    pixels.assign(static_cast<std::size_t>(width) * height * 4, 0);
  }
  ~Decoder() { rfx_context_free(context); }
  bool decode(const std::uint8_t* data, std::size_t size) {
    REGION16 invalid;
    region16_init(&invalid);
    bool ok = rfx_process_message(context, data, static_cast<UINT32>(size), 0, 0, pixels.data(),
                                  PIXEL_FORMAT_BGRX32, width * 4, height, &invalid);
    region16_uninit(&invalid);
    return ok;
  }
  int width, height;
  RFX_CONTEXT* context;
  std::vector<std::uint8_t> pixels;
};

int max_difference(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b) {
  int worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i % 4 == 3) continue;  // the X byte
    worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  }
  return worst;
}

// What FreeRDP's own encoder makes of the same frame, decoded.
std::vector<std::uint8_t> freerdp_reference(const std::vector<std::uint8_t>& frame, int width,
                                            int height) {
  RFX_CONTEXT* encoder = rfx_context_new(TRUE);
  rfx_context_reset(encoder, width, height);
  encoder->mode = RLGR3;
  rfx_context_set_pixel_format(encoder, PIXEL_FORMAT_BGRX32);
  RFX_RECT all{0, 0, static_cast<UINT16>(width), static_cast<UINT16>(height)};
  wStream* s = Stream_New(nullptr, 1024);
  EXPECT_TRUE(rfx_compose_message(encoder, s, &all, 1, frame.data(), width, height, width * 4));
  Decoder decoder(width, height);
  EXPECT_TRUE(decoder.decode(Stream_Buffer(s), Stream_GetPosition(s)));
  Stream_Free(s, TRUE);
  rfx_context_free(encoder);
  return decoder.pixels;
}

TEST(RemoteFxEncoder, DecodesToWhatFreeRdpsEncoderGivesIncludingCutEdgeTiles) {
  const int width = 200, height = 130;  // neither a multiple of 64
  auto frame = test_frame(width, height);
  RemoteFxEncoder encoder(width, height);
  Decoder decoder(width, height);
  int messages = 0;
  ASSERT_TRUE(
      encoder.encode(frame.data(), width * 4, {{0, 0, width, height}}, 1 << 20,
                     [&](const std::uint8_t* data, std::size_t size, bool first, bool last) {
                       ++messages;
                       EXPECT_TRUE(first);
                       EXPECT_TRUE(last);
                       return decoder.decode(data, size);
                     }));
  EXPECT_EQ(messages, 1);
  EXPECT_EQ(encoder.last_tile_count(), 4u * 3u);
  EXPECT_EQ(max_difference(decoder.pixels, freerdp_reference(frame, width, height)), 0);
  // Lossy, but close to the source (noise costs most).
  EXPECT_LE(max_difference(decoder.pixels, frame), 48);
}

TEST(RemoteFxEncoder, SplitsAFrameIntoMessagesThatFitAndDecodeToTheSame) {
  const int width = 256, height = 192;
  auto frame = test_frame(width, height);
  RemoteFxEncoder encoder(width, height);
  Decoder decoder(width, height);
  std::vector<std::pair<bool, bool>> marks;
  const std::size_t limit = 6000;
  ASSERT_TRUE(
      encoder.encode(frame.data(), width * 4, {{0, 0, width, height}}, limit,
                     [&](const std::uint8_t* data, std::size_t size, bool first, bool last) {
                       marks.emplace_back(first, last);
                       EXPECT_LE(size, limit);
                       return decoder.decode(data, size);
                     }));
  ASSERT_GT(marks.size(), 2u);
  EXPECT_EQ(marks.front(), std::make_pair(true, false));
  EXPECT_EQ(marks.back(), std::make_pair(false, true));
  for (std::size_t i = 1; i + 1 < marks.size(); ++i)
    EXPECT_EQ(marks[i], std::make_pair(false, false));
  EXPECT_EQ(max_difference(decoder.pixels, freerdp_reference(frame, width, height)), 0);
}

TEST(RemoteFxEncoder, CodesOnlyTheTilesUnderTheDamageAndPaintsOnlyTheDamage) {
  const int width = 256, height = 256;
  auto frame = test_frame(width, height);
  RemoteFxEncoder encoder(width, height);
  Decoder decoder(width, height);
  auto decode = [&](const std::uint8_t* data, std::size_t size, bool, bool) {
    return decoder.decode(data, size);
  };
  ASSERT_TRUE(encoder.encode(frame.data(), width * 4, {{10, 10, 5, 5}}, 1 << 20, decode));
  EXPECT_EQ(encoder.last_tile_count(), 1u);
  ASSERT_TRUE(encoder.encode(frame.data(), width * 4, {{60, 60, 10, 10}}, 1 << 20, decode));
  EXPECT_EQ(encoder.last_tile_count(), 4u);
  // Outside the damage the decoder's buffer is untouched (still black).
  auto at = [&](int x, int y) {
    return &decoder.pixels[(static_cast<std::size_t>(y) * width + x) * 4];
  };
  EXPECT_EQ(at(100, 100)[0] | at(100, 100)[1] | at(100, 100)[2], 0);
  EXPECT_EQ(at(9, 9)[0] | at(9, 9)[1] | at(9, 9)[2], 0);
  EXPECT_NE(at(12, 12)[0] | at(12, 12)[1] | at(12, 12)[2], 0);
}

TEST(RemoteFxEncoder, ClipsAreasToTheFrameAndSendsNothingForNothing) {
  const int width = 128, height = 128;
  auto frame = test_frame(width, height);
  RemoteFxEncoder encoder(width, height);
  int calls = 0;
  auto count = [&](const std::uint8_t*, std::size_t, bool, bool) { return ++calls > 0; };
  ASSERT_TRUE(encoder.encode(frame.data(), width * 4, {{500, 500, 50, 50}, {-80, 0, 40, 40}},
                             1 << 20, count));
  EXPECT_EQ(calls, 0);
  ASSERT_TRUE(encoder.encode(frame.data(), width * 4, {{100, 100, 1000, 1000}}, 1 << 20, count));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(encoder.last_tile_count(), 1u);
}

TEST(RemoteFxEncoder, ManyDamageRectanglesStillDecode) {
  const int width = 256, height = 256;
  auto frame = test_frame(width, height);
  std::vector<Rect> areas;
  for (int i = 0; i < 600; ++i) areas.push_back({(i * 7) % 250, (i * 13) % 250, 3, 3});
  RemoteFxEncoder encoder(width, height);
  Decoder decoder(width, height);
  ASSERT_TRUE(encoder.encode(frame.data(), width * 4, areas, 1 << 20,
                             [&](const std::uint8_t* data, std::size_t size, bool, bool) {
                               return decoder.decode(data, size);
                             }));
  EXPECT_EQ(encoder.last_tile_count(), 16u);
}

TEST(RemoteFxEncoder, AFailingSinkStopsTheFrame) {
  const int width = 256, height = 192;
  auto frame = test_frame(width, height);
  RemoteFxEncoder encoder(width, height);
  int calls = 0;
  EXPECT_FALSE(encoder.encode(frame.data(), width * 4, {{0, 0, width, height}}, 6000,
                              [&](const std::uint8_t*, std::size_t, bool, bool) {
                                ++calls;
                                return false;
                              }));
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace mp::rdp
