// What a peer thread may ask of mp-session. The implementation (RdpService) forwards each call
// to the main thread, where the bus client lives, and blocks the calling peer thread until the
// answer comes, the deadline passes, or the peer is told to stop.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace mp::rdp {

using PeerId = std::uint64_t;

struct StationDescription {
  std::string key;          // rdp:<client name>
  std::string client_name;  // as the client sent it, made printable
  std::string address;      // the client's IP address
  std::uint16_t width = 0;  // the desktop size it asked for, clamped
  std::uint16_t height = 0;
};

struct LogonOutcome {
  enum class Result { accepted, refused, throttled, unavailable };
  Result result = Result::unavailable;
  std::string reason;
  std::string display;     // e.g. ":10"
  std::string xauthority;  // path of the display's Xauthority file
  std::uint16_t width = 0;
  std::uint16_t height = 0;
  std::uint64_t session_id = 0;
};

// What a station's screen shows, as the transport draws it (schemas/transport.capnp
// StationScreen.Shows).
enum class ScreenShown { desktop, lock, projection };

class SessionGateway {
 public:
  virtual ~SessionGateway() = default;
  // credentials naming the station, with mp-rdp's own throttle in front. mp-session stores the
  // station only when the password is right; then this peer holds it, and an older peer with
  // the same key is told to close.
  virtual LogonOutcome logon(PeerId peer, const StationDescription& station,
                             const std::string& user, const std::string& password,
                             const std::atomic<bool>& cancel) = 0;
  // stationDetach, unless a newer peer holds the station now. Does not block.
  virtual void detach(PeerId peer, const std::string& station_key) = 0;
  // What the client is shown now, once it was sent (published as StationScreen). Does not
  // block.
  virtual void screen_shown(PeerId peer, const std::string& station_key, ScreenShown shown,
                            const std::string& lock_message) = 0;
  // The peer's thread is ending; its resources may be reclaimed. Does not block.
  virtual void finished(PeerId peer) = 0;
};

}  // namespace mp::rdp
