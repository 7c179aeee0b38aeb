// mp-rdp's main-thread side: the RDP listener, the peers (one thread each), and everything
// that talks to the bus — the transport contract towards mp-session (stationAttach,
// credentials, stationDetach, transportSync) and mp-rdp's own failed-logon throttle.
#pragma once

// Cap'n Proto before FreeRDP: WinPR defines macros (VOID, ...) that break capnp's headers.
#include "mp/bus/client.h"

#include <freerdp/listener.h>

#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "logon_throttle.h"
#include "main_thread_queue.h"
#include "peer_connection.h"
#include "session_gateway.h"

namespace mp::rdp {

struct RdpOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 3389;
  std::size_t max_peers = 64;
  std::chrono::milliseconds bus_timeout{5000};
  int max_failed_logons = 5;  // per client address, within the window
  std::chrono::seconds failed_logon_window{60};
  PeerOptions peer;
};

class RdpService final : public SessionGateway {
 public:
  RdpService(mp::bus::Client& client, RdpOptions options);
  ~RdpService() override;
  RdpService(const RdpService&) = delete;
  RdpService& operator=(const RdpService&) = delete;

  // Opens the port (throws std::runtime_error if it cannot), registers on the bus, and
  // announces the (empty) station list once registered.
  void start();
  // Disconnects every client and joins its thread. Stations stay attached in mp-session
  // until the next transportSync: clients reconnect to the next mp-rdp.
  void stop();
  std::size_t peer_count() const { return peers_.size(); }

  // SessionGateway: called on peer threads.
  bool attach(PeerId peer, const StationDescription& station,
              const std::atomic<bool>& cancel) override;
  LogonOutcome logon(PeerId peer, const std::string& station_key, const std::string& user,
                     const std::string& password, const std::string& address,
                     const std::atomic<bool>& cancel) override;
  void detach(PeerId peer, const std::string& station_key) override;
  void finished(PeerId peer) override;

 private:
  static BOOL on_peer_accepted(freerdp_listener* listener, freerdp_peer* peer);
  bool accept(freerdp_peer* peer);
  void logon_on_main(PeerId peer, const std::string& station_key, const std::string& user,
                     const std::string& password, const std::string& address,
                     std::shared_ptr<std::promise<LogonOutcome>> answer);
  void take_over(PeerId peer, const std::string& station_key);
  PeerConnection* peer_of(const std::string& station_key);
  void show(mp::schema::StationShow::Reader body, mp::schema::Envelope::Builder reply);
  void disconnect(mp::schema::StationDisconnectRequest::Reader body,
                  mp::schema::Envelope::Builder reply);
  void send_attach(const StationDescription& station, std::shared_ptr<std::promise<bool>> answer);
  void send_detach(const std::string& key);
  void send_sync();
  std::string next_key();

  mp::bus::Client& client_;
  RdpOptions options_;
  MainThreadQueue queue_;
  freerdp_listener* listener_ = nullptr;
  std::vector<int> listener_fds_;
  std::map<PeerId, std::unique_ptr<PeerConnection>> peers_;
  PeerId next_peer_ = 1;

  // Which peer shows each station now. A second client with the same name takes the station
  // over only once its logon succeeded, so nobody can push a user out without a password.
  struct Holder {
    PeerId peer = 0;
    StationDescription station;
  };
  std::map<std::string, Holder> stations_;
  std::map<PeerId, StationDescription> attached_peers_;  // every peer that sent stationAttach
  // What stations show instead of their own desktops (projection), for reconnecting clients.
  std::map<std::string, ShownDisplay> shows_;
  LogonThrottle throttle_;
  std::uint64_t session_incarnation_ = 0;
  std::uint64_t requests_sent_ = 0;
};

}  // namespace mp::rdp
