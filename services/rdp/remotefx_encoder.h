// RemoteFX (MS-RDPRFX) encoding of the 64×64 tiles under a frame's damaged areas, on the
// calling thread.
//
// Why not FreeRDP's rfx_encode_messages: FreeRDP 2 hands every tile to a per-connection
// thread pool. On a few cores the hand-offs (queue, semaphores, wake-ups) cost more than the
// tiles themselves — perf put a third of mp-rdp's time in the kernel — and the pool can only
// be switched off through the system-wide winpr registry file. This encoder does the same
// per-tile steps: colour conversion and quantisation with FreeRDP's SIMD routines (which
// RFX_CONTEXT and the primitives make public), DWT and RLGR with our own faster ones; FreeRDP
// writes the message blocks (rfx_write_message). The result decodes to exactly what FreeRDP's
// own encoder gives (tests compare).
#pragma once

#include <freerdp/codec/rfx.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "screen_capture.h"

namespace mp::rdp {

class RemoteFxEncoder {
 public:
  // One encoded message, valid only during the call; `first`/`last` bracket a frame.
  using Emit =
      std::function<bool(const std::uint8_t* data, std::size_t size, bool first, bool last)>;

  // Throws std::runtime_error if FreeRDP's codec context cannot be made.
  RemoteFxEncoder(int width, int height);
  ~RemoteFxEncoder();
  RemoteFxEncoder(const RemoteFxEncoder&) = delete;
  RemoteFxEncoder& operator=(const RemoteFxEncoder&) = delete;

  // Encodes the tiles under `areas` of `frame` (BGRX, `stride` bytes a row, the size given
  // at construction) into messages of at most `max_message_bytes` each. Areas are clipped to
  // the frame. False if `emit` failed (or memory ran out).
  bool encode(const std::uint8_t* frame, int stride, const std::vector<Rect>& areas,
              std::size_t max_message_bytes, const Emit& emit);

  // The next message starts with the header blocks again (sync, versions, channels, context),
  // as the first one did: for frames shared by clients that joined at different times.
  void send_headers_again() { rfx_->state = RFX_STATE_SEND_HEADERS; }

  // How many tiles the last encode() coded (for tests and logs).
  std::size_t last_tile_count() const { return tiles_.size(); }

 private:
  struct Scratch;  // aligned planes for one tile, reused

  std::vector<std::pair<int, int>> tiles_under(const std::vector<Rect>& areas,
                                               std::vector<RFX_RECT>& region) const;
  void encode_tile(const std::uint8_t* frame, int stride, int tile_x, int tile_y, RFX_TILE& tile,
                   std::uint8_t* out);
  void encode_component(std::int16_t* plane, std::uint8_t* out, UINT16* length);
  bool write_message(std::vector<RFX_TILE*>& tiles, std::uint32_t tiles_bytes,
                     std::vector<RFX_RECT>& region, bool first, bool last, const Emit& emit);

  int width_;
  int height_;
  RFX_CONTEXT* rfx_ = nullptr;
  std::unique_ptr<Scratch, void (*)(Scratch*)> scratch_;
  std::vector<RFX_TILE> tiles_;
  std::vector<std::uint8_t> coded_;  // three components of every tile, back to back
  wStream* stream_ = nullptr;
};

}  // namespace mp::rdp
