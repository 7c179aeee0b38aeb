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

class SessionGateway {
 public:
  virtual ~SessionGateway() = default;
  // stationAttach; true when mp-session acknowledged it. A newer peer with the same key takes
  // the station over and the older peer is told to close.
  virtual bool attach(PeerId peer, const StationDescription& station,
                      const std::atomic<bool>& cancel) = 0;
  // credentials, with mp-rdp's own per-address throttle in front.
  virtual LogonOutcome logon(PeerId peer, const std::string& station_key, const std::string& user,
                             const std::string& password, const std::string& address,
                             const std::atomic<bool>& cancel) = 0;
  // stationDetach, unless a newer peer holds the station now. Does not block.
  virtual void detach(PeerId peer, const std::string& station_key) = 0;
  // The peer's thread is ending; its resources may be reclaimed. Does not block.
  virtual void finished(PeerId peer) = 0;
};

}  // namespace mp::rdp
