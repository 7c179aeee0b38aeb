#include "surface_encoder.h"

#include <freerdp/codec/color.h>
#include <freerdp/constants.h>
#include <freerdp/update.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace mp::rdp {

namespace {

constexpr int kTile = 64;                     // planar bitmap tiles, as RDP clients cache them
constexpr std::size_t kHeaderReserve = 2048;  // PDU headers around an encoded payload

}  // namespace

const char* SurfaceEncoder::name(Codec codec) {
  switch (codec) {
    case Codec::remotefx:
      return "RemoteFX";
    case Codec::nscodec:
      return "NSCodec";
    case Codec::planar:
      return "planar";
  }
  return "?";
}

SurfaceEncoder::SurfaceEncoder(freerdp_peer* peer, int width, int height)
    : peer_(peer), width_(width), height_(height) {
  rdpSettings* settings = peer_->settings;
  max_request_bytes_ = std::max<std::size_t>(settings->MultifragMaxRequestSize, 16256);
  stream_ = Stream_New(nullptr, 65536);
  if (stream_ == nullptr) throw std::runtime_error("out of memory");
  if (settings->RemoteFxCodec) {
    codec_ = Codec::remotefx;
    remotefx_ = std::make_unique<RemoteFxEncoder>(width_, height_);
  } else if (settings->NSCodec) {
    codec_ = Codec::nscodec;
    nsc_ = nsc_context_new();
    // Loss level 1 without subsampling: exact colours; on a LAN, quality beats bandwidth.
    if (nsc_ == nullptr || !nsc_context_reset(nsc_, width_, height_) ||
        !nsc_context_set_parameters(nsc_, NSC_COLOR_LOSS_LEVEL, 1) ||
        !nsc_context_set_parameters(nsc_, NSC_ALLOW_SUBSAMPLING, FALSE) ||
        !nsc_context_set_parameters(nsc_, NSC_DYNAMIC_COLOR_FIDELITY, FALSE) ||
        !nsc_context_set_parameters(nsc_, NSC_COLOR_FORMAT, PIXEL_FORMAT_BGRX32)) {
      throw std::runtime_error("NSCodec encoder setup failed");
    }
  } else {
    if (settings->ColorDepth != 32) {
      throw std::runtime_error("client offers neither RemoteFX, NSCodec nor 32-bit colour (" +
                               std::to_string(settings->ColorDepth) + " bpp)");
    }
    codec_ = Codec::planar;
    DWORD flags = PLANAR_FORMAT_HEADER_RLE;
    if (settings->DrawAllowSkipAlpha) flags |= PLANAR_FORMAT_HEADER_NA;
    planar_ = freerdp_bitmap_planar_context_new(flags, kTile, kTile);
    if (planar_ == nullptr) throw std::runtime_error("planar encoder setup failed");
  }
  // Surface bits can be bracketed by frame markers the client acknowledges; bitmap updates
  // cannot.
  frame_markers_ = codec_ != Codec::planar && settings->SurfaceFrameMarkerEnabled;
}

SurfaceEncoder::~SurfaceEncoder() {
  if (nsc_) nsc_context_free(nsc_);
  if (planar_) freerdp_bitmap_planar_context_free(planar_);
  if (stream_) Stream_Free(stream_, TRUE);
}

bool SurfaceEncoder::send(const std::uint8_t* frame, int stride, const std::vector<Rect>& areas,
                          std::uint32_t frame_id) {
  if (areas.empty()) return true;
  switch (codec_) {
    case Codec::remotefx:
      return send_remotefx(frame, stride, areas, frame_id);
    case Codec::nscodec:
      return send_nscodec(frame, stride, areas, frame_id);
    case Codec::planar:
      return send_planar(frame, stride, areas);
  }
  return false;
}

bool SurfaceEncoder::send_surface_bits(SURFACE_BITS_COMMAND& command, bool first, bool last,
                                       std::uint32_t frame_id) {
  rdpUpdate* update = peer_->update;
  bytes_sent_ += command.bmp.bitmapDataLength;
  if (frame_markers_)
    return update->SurfaceFrameBits(update->context, &command, first, last, frame_id);
  return update->SurfaceBits(update->context, &command);
}

bool SurfaceEncoder::send_remotefx_message(const std::uint8_t* data, std::size_t size, bool first,
                                           bool last, std::uint32_t frame_id) {
  SURFACE_BITS_COMMAND command{};
  command.cmdType = CMDTYPE_STREAM_SURFACE_BITS;
  command.destRight = static_cast<UINT32>(width_);
  command.destBottom = static_cast<UINT32>(height_);
  command.bmp.bpp = 32;
  command.bmp.codecID = static_cast<UINT16>(peer_->settings->RemoteFxCodecId);
  command.bmp.width = static_cast<UINT16>(width_);
  command.bmp.height = static_cast<UINT16>(height_);
  command.bmp.bitmapDataLength = static_cast<UINT32>(size);
  command.bmp.bitmapData = const_cast<BYTE*>(data);
  command.skipCompression = TRUE;
  return send_surface_bits(command, first, last, frame_id);
}

bool SurfaceEncoder::send_remotefx(const std::uint8_t* frame, int stride,
                                   const std::vector<Rect>& areas, std::uint32_t frame_id) {
  return remotefx_->encode(frame, stride, areas, max_request_bytes_,
                           [&](const std::uint8_t* data, std::size_t size, bool first, bool last) {
                             return send_remotefx_message(data, size, first, last, frame_id);
                           });
}

bool SurfaceEncoder::send_encoded(const EncodedFrame& frame, std::uint32_t frame_id) {
  if (codec_ == Codec::remotefx) {
    const auto& messages = frame.remotefx;
    for (std::size_t i = 0; i < messages.size(); ++i) {
      if (!send_remotefx_message(messages[i].data(), messages[i].size(), i == 0,
                                 i + 1 == messages.size(), frame_id)) {
        return false;
      }
    }
  } else if (codec_ == Codec::nscodec) {
    const auto& bands = frame.nscodec;
    for (std::size_t i = 0; i < bands.size(); ++i) {
      if (!send_nscodec_band(bands[i].rect, bands[i].bytes.data(), bands[i].bytes.size(), i == 0,
                             i + 1 == bands.size(), frame_id)) {
        return false;
      }
    }
  }
  return true;
}

bool SurfaceEncoder::send_nscodec(const std::uint8_t* frame, int stride,
                                  const std::vector<Rect>& areas, std::uint32_t frame_id) {
  // NSCodec output is not split by the library: cut areas into bands that fit one request.
  std::vector<Rect> bands;
  for (const auto& a : areas) {
    std::size_t row_bytes = static_cast<std::size_t>(a.width) * 4;
    int rows = static_cast<int>(
        std::max<std::size_t>(1, (max_request_bytes_ - kHeaderReserve) / row_bytes));
    for (int y = a.y; y < a.y + a.height; y += rows) {
      bands.push_back({a.x, y, a.width, std::min(rows, a.y + a.height - y)});
    }
  }
  for (std::size_t i = 0; i < bands.size(); ++i) {
    const Rect& b = bands[i];
    Stream_SetPosition(stream_, 0);
    const std::uint8_t* origin = frame + static_cast<std::size_t>(b.y) * stride + b.x * 4;
    if (!nsc_compose_message(nsc_, stream_, origin, static_cast<UINT32>(b.width),
                             static_cast<UINT32>(b.height), static_cast<UINT32>(stride))) {
      spdlog::warn("NSCodec encoding failed");
      return true;
    }
    if (!send_nscodec_band(b, Stream_Buffer(stream_), Stream_GetPosition(stream_), i == 0,
                           i + 1 == bands.size(), frame_id)) {
      return false;
    }
  }
  return true;
}

bool SurfaceEncoder::send_nscodec_band(const Rect& band, const std::uint8_t* bytes,
                                       std::size_t size, bool first, bool last,
                                       std::uint32_t frame_id) {
  SURFACE_BITS_COMMAND command{};
  command.cmdType = CMDTYPE_SET_SURFACE_BITS;
  command.destLeft = static_cast<UINT32>(band.x);
  command.destTop = static_cast<UINT32>(band.y);
  command.destRight = static_cast<UINT32>(band.x + band.width);
  command.destBottom = static_cast<UINT32>(band.y + band.height);
  command.bmp.bpp = 32;
  command.bmp.codecID = static_cast<UINT16>(peer_->settings->NSCodecId);
  command.bmp.width = static_cast<UINT16>(band.width);
  command.bmp.height = static_cast<UINT16>(band.height);
  command.bmp.bitmapDataLength = static_cast<UINT32>(size);
  command.bmp.bitmapData = const_cast<BYTE*>(bytes);  // FreeRDP only reads it
  return send_surface_bits(command, first, last, frame_id);
}

bool SurfaceEncoder::send_planar(const std::uint8_t* frame, int stride,
                                 const std::vector<Rect>& areas) {
  // Tiles on a fixed 64-pixel grid, so overlapping areas never send a tile twice.
  std::vector<std::pair<int, int>> tiles;
  for (const auto& a : areas) {
    for (int ty = a.y / kTile; ty * kTile < a.y + a.height; ++ty) {
      for (int tx = a.x / kTile; tx * kTile < a.x + a.width; ++tx) tiles.emplace_back(tx, ty);
    }
  }
  std::sort(tiles.begin(), tiles.end());
  tiles.erase(std::unique(tiles.begin(), tiles.end()), tiles.end());

  struct Encoded {
    BITMAP_DATA data;
    std::unique_ptr<BYTE, decltype(&std::free)> bytes;
  };
  std::vector<Encoded> batch;
  std::size_t batch_bytes = 0;
  rdpUpdate* update = peer_->update;
  auto flush = [&]() -> bool {
    if (batch.empty()) return true;
    std::vector<BITMAP_DATA> rectangles;
    for (auto& e : batch) rectangles.push_back(e.data);
    BITMAP_UPDATE bitmap_update{};
    bitmap_update.count = bitmap_update.number = static_cast<UINT32>(rectangles.size());
    bitmap_update.rectangles = rectangles.data();
    bool ok = update->BitmapUpdate(update->context, &bitmap_update);
    bytes_sent_ += batch_bytes;
    batch.clear();
    batch_bytes = 0;
    return ok;
  };
  for (auto [tx, ty] : tiles) {
    int x = tx * kTile, y = ty * kTile;
    int w = std::min(kTile, width_ - x), h = std::min(kTile, height_ - y);
    if (w <= 0 || h <= 0) continue;
    UINT32 size = 0;
    const std::uint8_t* origin = frame + static_cast<std::size_t>(y) * stride + x * 4;
    BYTE* bytes = freerdp_bitmap_compress_planar(planar_, origin, PIXEL_FORMAT_BGRX32,
                                                 static_cast<UINT32>(w), static_cast<UINT32>(h),
                                                 static_cast<UINT32>(stride), nullptr, &size);
    if (bytes == nullptr) continue;
    if (batch_bytes + size + 64 * (batch.size() + 1) + kHeaderReserve > max_request_bytes_ &&
        !flush()) {
      std::free(bytes);
      return false;
    }
    BITMAP_DATA data{};
    data.destLeft = static_cast<UINT32>(x);
    data.destTop = static_cast<UINT32>(y);
    data.destRight = static_cast<UINT32>(x + w - 1);  // inclusive, unlike surface bits
    data.destBottom = static_cast<UINT32>(y + h - 1);
    data.width = static_cast<UINT32>(w);
    data.height = static_cast<UINT32>(h);
    data.bitsPerPixel = 32;
    data.compressed = TRUE;
    data.bitmapLength = size;
    data.cbCompMainBodySize = size;
    data.cbScanWidth = static_cast<UINT32>(w * 4);
    data.cbUncompressedSize = static_cast<UINT32>(w * h * 4);
    data.bitmapDataStream = bytes;
    batch.push_back({data, {bytes, &std::free}});
    batch_bytes += size;
  }
  return flush();
}

}  // namespace mp::rdp
