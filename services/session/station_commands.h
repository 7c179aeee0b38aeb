// What an operator does to stations beyond their sessions' state: project one station's desktop
// onto others (and stop), disconnect stations, launch and close applications by name.
// Projection and disconnect are carried out by each station's transport (StationShow,
// StationDisconnectRequest): the transport serves the source's display instead of the
// station's own, encoded once for all. Which station shows which is kept in the store
// (Station.showing) so that a station that reconnects, or a restarted transport, is told again.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "app_catalog.h"
#include "desktops.h"
#include "envelope.capnp.h"
#include "mp/bus/client.h"
#include "mp/bus/responder.h"
#include "session_bus.h"
#include "session_store.h"
#include "station_registry.h"

namespace mp::session {

class StationCommands {
 public:
  // `request` reaches the transports; `defer` runs what follows a committed change after it
  // (a loop that never runs them, as the one-shot --end-all-sessions has, leaves projection to
  // the next mp-session).
  StationCommands(SessionStore& store, StationRegistry& stations, Desktops& desktops,
                  AppCatalog apps, ServiceRequest request, AnswerLater answer_later, Defer defer);

  // Requests: projectStart, projectStop, stationDisconnect, appLaunch, appClose, appListRequest.
  // Those that wait for transports answer later.
  void project_start(mp::schema::ProjectStart::Reader body, mp::schema::Envelope::Builder reply);
  void project_stop(mp::schema::ProjectStop::Reader body, mp::schema::Envelope::Builder reply);
  void disconnect(mp::schema::StationDisconnect::Reader body, mp::schema::Envelope::Builder reply);
  void launch(mp::schema::AppLaunch::Reader body, mp::schema::Envelope::Builder reply);
  void close(mp::schema::AppClose::Reader body, mp::schema::Envelope::Builder reply);
  void list_apps(mp::schema::Envelope::Builder reply);

  // Committed changes (SessionService passes every one on): a station that (re)attaches while it
  // should show another's desktop is told again; a source whose session ends stops being shown.
  void station_changed(const Station& station);
  void session_changed(const SessionRecord& record);

 private:
  struct Result {
    std::string station;
    bool ok = false;
    std::string reason;
  };
  // Collects the transports' answers of one request and replies once all are in.
  struct Pending;

  // Stations named in a request (empty: every one but `except`), checked: unknown keys become
  // failed results. An error text if the list itself is bad.
  std::string stations_named(capnp::List<capnp::Text>::Reader keys, const std::string& except,
                             std::vector<Station>* found, std::vector<Result>* results);
  // Sends StationShow (the source's display, or "" for the station's own) to the station's
  // transport; `done` gets the result.
  void show(const Station& target, const SessionRecord* source, std::function<void(Result)> done);
  void stop_showing(const std::vector<std::string>& stations);
  // Answers later, once every request it sends is answered.
  std::shared_ptr<Pending> pending(std::vector<Result> results);
  const App* app_named(capnp::Text::Reader name, mp::schema::Envelope::Builder reply);
  // `act` on the session of each station named (empty: every station with one), then replies.
  void for_each_session(capnp::List<capnp::Text>::Reader keys, mp::schema::Envelope::Builder reply,
                        const std::function<Result(const Station&, std::uint64_t)>& act);
  static void fill(mp::schema::Envelope::Builder reply, const std::vector<Result>& results);

  SessionStore& store_;
  StationRegistry& stations_;
  Desktops& desktops_;
  AppCatalog apps_;
  ServiceRequest request_;
  AnswerLater answer_later_;
  Defer defer_;
  // The attach (attachedAtNs) of each station that was last told what to show: a new attach
  // (a reconnect, a restarted transport) is told again.
  std::map<std::string, std::int64_t> told_;
};

}  // namespace mp::session
