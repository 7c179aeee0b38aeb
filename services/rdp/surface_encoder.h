// Encodes damaged areas of a frame buffer with the best codec the client negotiated and sends
// them: RemoteFX or NSCodec as surface bits (with frame markers when the client acknowledges
// frames), else planar bitmap updates. Call on the peer's thread only, after activation.
#pragma once

#include <freerdp/codec/nsc.h>
#include <freerdp/codec/planar.h>
#include <freerdp/peer.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "projection_feed.h"
#include "remotefx_encoder.h"
#include "screen_capture.h"

namespace mp::rdp {

class SurfaceEncoder {
 public:
  enum class Codec { remotefx, nscodec, planar };

  // Chooses from the settings negotiated with the client. Throws std::runtime_error when no
  // codec fits (e.g. a client below 32 bits per pixel without RemoteFX or NSCodec).
  SurfaceEncoder(freerdp_peer* peer, int width, int height);
  ~SurfaceEncoder();
  SurfaceEncoder(const SurfaceEncoder&) = delete;
  SurfaceEncoder& operator=(const SurfaceEncoder&) = delete;

  Codec codec() const { return codec_; }
  static const char* name(Codec codec);
  // Whether frames can be marked and acknowledged (pacing by acknowledgement).
  bool frame_markers() const { return frame_markers_; }

  // Sends `areas` of `frame` (BGRX, `stride` bytes a row) as one frame. False: the connection
  // failed and the peer should go.
  bool send(const std::uint8_t* frame, int stride, const std::vector<Rect>& areas,
            std::uint32_t frame_id);
  // Sends a frame encoded elsewhere (a projection) in this client's codec (RemoteFX or
  // NSCodec). False: the connection failed.
  bool send_encoded(const EncodedFrame& frame, std::uint32_t frame_id);
  std::uint64_t bytes_sent() const { return bytes_sent_; }

 private:
  bool send_remotefx(const std::uint8_t* frame, int stride, const std::vector<Rect>& areas,
                     std::uint32_t frame_id);
  bool send_nscodec(const std::uint8_t* frame, int stride, const std::vector<Rect>& areas,
                    std::uint32_t frame_id);
  bool send_planar(const std::uint8_t* frame, int stride, const std::vector<Rect>& areas);
  // One NSCodec band as a surface bits command.
  bool send_nscodec_band(const Rect& band, const std::uint8_t* bytes, std::size_t size, bool first,
                         bool last, std::uint32_t frame_id);
  bool send_surface_bits(SURFACE_BITS_COMMAND& command, bool first, bool last,
                         std::uint32_t frame_id);
  bool send_remotefx_message(const std::uint8_t* data, std::size_t size, bool first, bool last,
                             std::uint32_t frame_id);

  freerdp_peer* peer_;
  int width_;
  int height_;
  Codec codec_ = Codec::planar;
  bool frame_markers_ = false;
  std::size_t max_request_bytes_ = 0;
  std::unique_ptr<RemoteFxEncoder> remotefx_;
  NSC_CONTEXT* nsc_ = nullptr;
  BITMAP_PLANAR_CONTEXT* planar_ = nullptr;
  wStream* stream_ = nullptr;
  std::uint64_t bytes_sent_ = 0;
};

}  // namespace mp::rdp
