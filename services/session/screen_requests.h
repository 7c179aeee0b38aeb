// What the operators ask of a session's screen beyond its state: thumbnail streams (the
// dashboard's grid and live view) and remote input (take control). Passed from the bus to the
// session's agent; mp-session keeps none of it, the agent holds the lease.
#pragma once

#include <cstdint>
#include <string>

#include "session.capnp.h"

namespace mp::session {

struct ThumbnailRequest {
  std::uint8_t stream = 0;  // 0: grid, 1: live view
  std::uint32_t interval_ms = 1000;
  std::uint16_t width = 320;
  std::uint32_t max_bytes = 10240;
  std::uint32_t lease_ms = 0;  // 0: stop the stream
};

// Bounds on what the bus may ask (the agent captures and encodes for every request).
inline constexpr std::uint8_t kMaxStream = 1;
inline constexpr std::uint32_t kMinIntervalMs = 100;
inline constexpr std::uint32_t kMaxIntervalMs = 60000;
inline constexpr std::uint16_t kMinThumbnailWidth = 32;
inline constexpr std::uint16_t kMaxThumbnailWidth = 1920;
inline constexpr std::uint32_t kMinThumbnailBytes = 1024;
inline constexpr std::uint32_t kMaxThumbnailBytes = 256 * 1024;
inline constexpr std::uint32_t kMaxLeaseMs = 60000;
inline constexpr std::size_t kMaxWatchedStations = 1024;
inline constexpr std::size_t kMaxInputEvents = 256;
inline constexpr std::uint16_t kMaxImageSide = 8192;

// The request in `watch`, or why it is refused (then `out` is untouched).
std::string read_thumbnail_watch(mp::schema::ThumbnailWatch::Reader watch, ThumbnailRequest* out);
// Why a remote input cannot be passed on (too many events, unknown kinds, bad buttons), or "".
std::string check_remote_input(mp::schema::RemoteInput::Reader input);

}  // namespace mp::session
