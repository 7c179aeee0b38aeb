#include "remotefx_encoder.h"

#include <freerdp/codec/color.h>
#include <freerdp/primitives.h>

#include <algorithm>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <cstring>
#include <stdexcept>

#include "dwt_encoder.h"
#include "rlgr_encoder.h"

namespace mp::rdp {

namespace {

constexpr int kTile = 64;
constexpr int kTilePixels = kTile * kTile;
// RLGR output of one component of one tile; a 64×64 tile at these quantisation values stays
// far below it, and the RLGR writer cuts off rather than overrun.
constexpr std::size_t kComponentBytes = 8192;
constexpr std::size_t kTileHeaderBytes = 19;    // the TS_RFX_TILE block around the three components
constexpr std::size_t kMessageOverhead = 1024;  // sync/context/frame blocks, tileset header
constexpr std::size_t kMaxRegionRects = 256;    // more damage rectangles become their bounds
// MS-RDPRFX's usual quantisation (LL3 … HH1), the values FreeRDP's encoder uses too.
constexpr UINT32 kQuantValues[10] = {6, 6, 6, 6, 7, 7, 8, 8, 8, 9};
// Margin around each plane: FreeRDP's SIMD routines may read just outside a tile's buffer.
constexpr int kPlaneMargin = 16;

// Splits BGRX pixels into 16-bit R, G and B rows, eight pixels at a time with SSE2 (part of
// x86-64): the scalar loop was 8 % of mp-rdp's time. Returns how many pixels it did.
int split_pixels(const std::uint8_t* pixels, int count, std::int16_t* r, std::int16_t* g,
                 std::int16_t* b) {
  int x = 0;
#if defined(__SSE2__)
  const __m128i low_byte = _mm_set1_epi32(0xff);
  for (; x + 8 <= count; x += 8) {
    __m128i first = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pixels + x * 4));
    __m128i second = _mm_loadu_si128(reinterpret_cast<const __m128i*>(pixels + x * 4 + 16));
    auto channel = [&](int shift) {
      __m128i a = _mm_and_si128(_mm_srli_epi32(first, shift), low_byte);
      __m128i c = _mm_and_si128(_mm_srli_epi32(second, shift), low_byte);
      return _mm_packs_epi32(a, c);
    };
    _mm_storeu_si128(reinterpret_cast<__m128i*>(b + x), channel(0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(g + x), channel(8));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(r + x), channel(16));
  }
#endif
  return x;
}

}  // namespace

struct RemoteFxEncoder::Scratch {
  alignas(32) std::int16_t planes[3][kPlaneMargin + kTilePixels + kPlaneMargin];
  alignas(32) std::int16_t dwt[kPlaneMargin + kTilePixels + kPlaneMargin];
  UINT32 quant[10];

  std::int16_t* plane(int i) { return planes[i] + kPlaneMargin; }
};

RemoteFxEncoder::RemoteFxEncoder(int width, int height)
    : width_(width), height_(height), scratch_(new Scratch, [](Scratch* s) { delete s; }) {
  std::copy(std::begin(kQuantValues), std::end(kQuantValues), scratch_->quant);
  // FreeRDP's context supplies the SIMD routines and writes the message blocks; its thread
  // pool (made here) stays idle because rfx_encode_message is never called.
  rfx_ = rfx_context_new(TRUE);
  if (rfx_ == nullptr ||
      !rfx_context_reset(rfx_, static_cast<UINT32>(width_), static_cast<UINT32>(height_))) {
    if (rfx_) rfx_context_free(rfx_);
    throw std::runtime_error("RemoteFX encoder setup failed");
  }
  rfx_->mode = RLGR3;
  rfx_context_set_pixel_format(rfx_, PIXEL_FORMAT_BGRX32);
  stream_ = Stream_New(nullptr, 65536);
  if (stream_ == nullptr) {
    rfx_context_free(rfx_);
    throw std::runtime_error("out of memory");
  }
}

RemoteFxEncoder::~RemoteFxEncoder() {
  rfx_context_free(rfx_);
  Stream_Free(stream_, TRUE);
}

std::vector<std::pair<int, int>> RemoteFxEncoder::tiles_under(const std::vector<Rect>& areas,
                                                              std::vector<RFX_RECT>& region) const {
  std::vector<std::pair<int, int>> tiles;  // (row, column): sorted, they go out row by row
  region.clear();
  int left = width_, top = height_, right = 0, bottom = 0;
  for (const auto& a : areas) {
    int x0 = std::max(0, a.x), y0 = std::max(0, a.y);
    int x1 = std::min(width_, a.x + a.width), y1 = std::min(height_, a.y + a.height);
    if (x0 >= x1 || y0 >= y1) continue;
    region.push_back({static_cast<UINT16>(x0), static_cast<UINT16>(y0),
                      static_cast<UINT16>(x1 - x0), static_cast<UINT16>(y1 - y0)});
    left = std::min(left, x0), top = std::min(top, y0);
    right = std::max(right, x1), bottom = std::max(bottom, y1);
    for (int ty = y0 / kTile; ty * kTile < y1; ++ty) {
      for (int tx = x0 / kTile; tx * kTile < x1; ++tx) tiles.emplace_back(ty, tx);
    }
  }
  if (region.size() > kMaxRegionRects) {
    region = {{static_cast<UINT16>(left), static_cast<UINT16>(top),
               static_cast<UINT16>(right - left), static_cast<UINT16>(bottom - top)}};
  }
  std::sort(tiles.begin(), tiles.end());
  tiles.erase(std::unique(tiles.begin(), tiles.end()), tiles.end());
  return tiles;
}

bool RemoteFxEncoder::encode(const std::uint8_t* frame, int stride, const std::vector<Rect>& areas,
                             std::size_t max_message_bytes, const Emit& emit) {
  std::vector<RFX_RECT> region;
  auto positions = tiles_under(areas, region);
  tiles_.assign(positions.size(), RFX_TILE{});
  if (positions.empty()) return true;
  coded_.resize(positions.size() * 3 * kComponentBytes);
  for (std::size_t i = 0; i < positions.size(); ++i) {
    auto [row, column] = positions[i];
    encode_tile(frame, stride, column, row, tiles_[i], coded_.data() + i * 3 * kComponentBytes);
  }

  // Split into messages by size: each is a complete RemoteFX frame for the same region,
  // carrying some of the tiles.
  std::size_t budget = max_message_bytes > kMessageOverhead + 8 * region.size()
                           ? max_message_bytes - kMessageOverhead - 8 * region.size()
                           : 0;
  std::vector<RFX_TILE*> batch;
  std::uint32_t batch_bytes = 0;
  for (std::size_t i = 0; i < tiles_.size(); ++i) {
    RFX_TILE& tile = tiles_[i];
    std::uint32_t bytes = kTileHeaderBytes + tile.YLen + tile.CbLen + tile.CrLen;
    if (!batch.empty() && batch_bytes + bytes > budget) {
      if (!write_message(batch, batch_bytes, region, i == batch.size(), false, emit)) return false;
      batch.clear();
      batch_bytes = 0;
    }
    batch.push_back(&tile);
    batch_bytes += bytes;
  }
  return write_message(batch, batch_bytes, region, batch.size() == tiles_.size(), true, emit);
}

void RemoteFxEncoder::encode_tile(const std::uint8_t* frame, int stride, int tile_x, int tile_y,
                                  RFX_TILE& tile, std::uint8_t* out) {
  Scratch& s = *scratch_;
  const int x0 = tile_x * kTile, y0 = tile_y * kTile;
  const int w = std::min(kTile, width_ - x0), h = std::min(kTile, height_ - y0);
  std::int16_t* r = s.plane(0);
  std::int16_t* g = s.plane(1);
  std::int16_t* b = s.plane(2);
  for (int y = 0; y < h; ++y) {
    const std::uint8_t* pixel = frame + static_cast<std::size_t>(y0 + y) * stride + x0 * 4;
    std::int16_t* rr = r + y * kTile;
    std::int16_t* gr = g + y * kTile;
    std::int16_t* br = b + y * kTile;
    int x = split_pixels(pixel, w, rr, gr, br);
    for (pixel += x * 4; x < w; ++x, pixel += 4) {  // BGRX in memory
      br[x] = pixel[0];
      gr[x] = pixel[1];
      rr[x] = pixel[2];
    }
    // A tile cut by the screen's edge repeats its last column and row: smoother for the DWT
    // than black, so the visible part keeps its quality.
    for (; x < kTile; ++x) rr[x] = rr[w - 1], gr[x] = gr[w - 1], br[x] = br[w - 1];
  }
  for (int y = h; y < kTile; ++y) {
    for (std::int16_t* p : {r, g, b}) {
      std::memcpy(p + y * kTile, p + (h - 1) * kTile, kTile * sizeof(std::int16_t));
    }
  }
  std::int16_t* planes[3] = {r, g, b};
  static const prim_size_t whole_tile = {kTile, kTile};
  primitives_get()->RGBToYCbCr_16s16s_P3P3(planes, kTile * sizeof(std::int16_t), planes,
                                           kTile * sizeof(std::int16_t), &whole_tile);

  tile.x = static_cast<UINT16>(x0);
  tile.y = static_cast<UINT16>(y0);
  tile.width = static_cast<UINT32>(w);
  tile.height = static_cast<UINT32>(h);
  tile.xIdx = static_cast<UINT16>(tile_x);
  tile.yIdx = static_cast<UINT16>(tile_y);
  tile.quantIdxY = tile.quantIdxCb = tile.quantIdxCr = 0;
  tile.YData = out;
  tile.CbData = out + kComponentBytes;
  tile.CrData = out + 2 * kComponentBytes;
  encode_component(planes[0], tile.YData, &tile.YLen);
  encode_component(planes[1], tile.CbData, &tile.CbLen);
  encode_component(planes[2], tile.CrData, &tile.CrLen);
}

void RemoteFxEncoder::encode_component(std::int16_t* plane, std::uint8_t* out, UINT16* length) {
  dwt_2d_encode(plane, scratch_->dwt + kPlaneMargin);
  rfx_->quantization_encode(plane, scratch_->quant);
  // The LL3 band (the last 64 coefficients) is sent as differences from its predecessor.
  std::int16_t* ll3 = plane + kTilePixels - 64;
  for (int i = 63; i > 0; --i) ll3[i] = static_cast<std::int16_t>(ll3[i] - ll3[i - 1]);
  *length = static_cast<UINT16>(rlgr_encode(Rlgr::rlgr3, plane, kTilePixels, out, kComponentBytes));
}

bool RemoteFxEncoder::write_message(std::vector<RFX_TILE*>& tiles, std::uint32_t tiles_bytes,
                                    std::vector<RFX_RECT>& region, bool first, bool last,
                                    const Emit& emit) {
  RFX_MESSAGE message{};
  message.frameIdx = rfx_->frameIdx++;
  message.numRects = static_cast<UINT16>(region.size());
  message.rects = region.data();
  message.numQuant = 1;
  message.quantVals = scratch_->quant;
  message.numTiles = static_cast<UINT16>(tiles.size());
  message.tiles = tiles.data();
  message.tilesDataSize = tiles_bytes;
  Stream_SetPosition(stream_, 0);
  if (!rfx_write_message(rfx_, stream_, &message)) return false;  // out of memory
  return emit(Stream_Buffer(stream_), Stream_GetPosition(stream_), first, last);
}

}  // namespace mp::rdp
