// A transport with no hardware behind it: tests tell it (simulateStations) which stations to
// attach and detach, and it speaks the transport contract to mp-session exactly as a real one
// must — including re-announcing its stations after it restarts or after mp-session restarts,
// and drawing the lock of a blocked station itself (into a frame nobody sees) and saying so on
// "transport.screen.<key>", as every transport does.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "mp/bus/client.h"
#include "mp/lockscreen/lock_painter.h"
#include "mp/stationlocks/station_locks.h"

namespace mp::faketransport {

class FakeTransport {
 public:
  // `state_file` keeps the simulated stations across restarts, standing in for clients that
  // reconnect by themselves after a real transport restarts.
  FakeTransport(mp::bus::Client& client, std::filesystem::path state_file);
  ~FakeTransport();

  void start();
  std::size_t station_count() const { return stations_.size(); }

 private:
  struct Station {
    std::string key;
    std::string client_name;
    std::string address;
    std::uint16_t width = 0;
    std::uint16_t height = 0;
  };

  bool handle(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);
  void simulate(mp::schema::SimulateStations::Reader simulate, mp::schema::Envelope::Builder reply);
  void fill(mp::schema::StationInfo::Builder info, const Station& station) const;
  void send_attach(const Station& station);
  void send_detach(const std::string& key);
  void send_sync();
  // Draws (or takes away) the lock of these stations (or all) as mp-policy says, and publishes
  // what each shows when that changed.
  void show_locks(const std::set<std::string>& stations, bool everyone);
  void show_lock(const Station& station);
  void load();
  void save() const;
  std::string next_key();

  mp::bus::Client& client_;
  std::filesystem::path state_file_;
  std::map<std::string, Station> stations_;
  // What each station shows: its lock's message, or nullopt for its desktop.
  std::map<std::string, std::optional<std::string>> shown_;
  std::unique_ptr<mp::lockscreen::LockPainter> painter_;
  std::unique_ptr<mp::stationlocks::StationLocks> locks_;
  std::uint64_t session_incarnation_ = 0;
  std::uint64_t requests_sent_ = 0;
};

}  // namespace mp::faketransport
