// mp-rdp's main-thread side: the RDP listener, the peers (one thread each), and everything
// that talks to the bus — the transport contract towards mp-session (stationAttach,
// credentials, stationDetach, transportSync) and mp-rdp's own failed-logon throttle.
#pragma once

// Cap'n Proto before FreeRDP: WinPR defines macros (VOID, ...) that break capnp's headers.
#include "mp/bus/client.h"

#include <freerdp/listener.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "main_thread_queue.h"
#include "mp/service/logon_throttle.h"
#include "mp/service/user_name_redactor.h"
#include "mp/stationlocks/station_locks.h"
#include "peer_connection.h"
#include "session_gateway.h"

namespace mp::rdp {

struct RdpOptions {
  std::string bind_address = "127.0.0.1";
  std::uint16_t port = 3389;
  std::size_t max_peers = 64;
  std::chrono::milliseconds bus_timeout{5000};
  // Failed logons per user name and client address (lib/service's throttle, channel-less: all of
  // mp-rdp's logons are RDP), checked before mp-session is asked.
  mp::service::LogonThrottle::Options throttle;
  // The last blocks known, applied before mp-policy answers after a restart; empty: none.
  std::filesystem::path lock_cache;
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
  LogonOutcome logon(PeerId peer, const StationDescription& station, const std::string& user,
                     const std::string& password, const std::atomic<bool>& cancel) override;
  void detach(PeerId peer, const std::string& station_key) override;
  void screen_shown(PeerId peer, const std::string& station_key, ScreenShown shown,
                    const std::string& lock_message) override;
  void finished(PeerId peer) override;

 private:
  static BOOL on_peer_accepted(freerdp_listener* listener, freerdp_peer* peer);
  bool accept(freerdp_peer* peer);
  void logon_on_main(PeerId peer, const StationDescription& station, const std::string& user,
                     const std::string& password,
                     std::shared_ptr<std::promise<LogonOutcome>> answer);
  void take_over(PeerId peer, const StationDescription& station);
  // mp-policy's blocks changed: the peers of those stations (or all) lock or unlock.
  void locks_changed(const std::set<std::string>& stations, bool everyone);
  void apply_lock(const std::string& station_key, PeerConnection& peer);
  void publish_screen(const std::string& station_key, ScreenShown shown,
                      const std::string& lock_message);
  PeerConnection* peer_of(const std::string& station_key);
  void show(mp::schema::StationShow::Reader body, mp::schema::Envelope::Builder reply);
  void disconnect(mp::schema::StationDisconnectRequest::Reader body,
                  mp::schema::Envelope::Builder reply);
  void send_detach(const std::string& key);
  void send_sync();
  void note_turned_away(const std::string& address, std::chrono::milliseconds wait);
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
  // Logons sent to mp-session and not answered yet, by station: a refused one lets go of its
  // station only when no other peer holds it or is logging on to it.
  std::map<std::string, int> logons_in_flight_;
  // What stations show instead of their own desktops (projection), for reconnecting clients.
  std::map<std::string, ShownDisplay> shows_;
  mp::service::LogonThrottle throttle_;
  // Connections turned away at accept, per throttle source: logged once per wait.
  struct TurnedAway {
    std::uint64_t count = 0;
    std::chrono::steady_clock::time_point quiet_until;
  };
  static constexpr std::size_t kMaxTurnedAwaySources = 4096;
  std::map<std::string, TurnedAway> turned_away_;
  mp::service::UserNameRedactor name_redactor_;  // mp-rdp cannot tell which names are accounts
  mp::stationlocks::StationLocks locks_;
  std::uint64_t session_incarnation_ = 0;
  std::uint64_t requests_sent_ = 0;
};

}  // namespace mp::rdp
