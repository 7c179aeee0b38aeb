#include "station_commands.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <set>

#include "validation.h"
#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::SessionState;
using mp::schema::StationState;

constexpr std::size_t kMaxStations = 1024;
constexpr std::size_t kMaxKeyBytes = 256;

}  // namespace

struct StationCommands::Pending {
  std::vector<Result> results;
  std::size_t waiting = 1;  // the sender's own hold, released once every request went out
  mp::bus::Responder responder;

  void add(Result result) {
    results.push_back(std::move(result));
    release();
  }
  void release() {
    if (--waiting != 0) return;
    responder.reply([this](Envelope::Builder e) { fill(e, results); });
  }
};

StationCommands::StationCommands(SessionStore& store, StationRegistry& stations, Desktops& desktops,
                                 AppCatalog apps, ServiceRequest request, AnswerLater answer_later,
                                 Defer defer)
    : store_(store),
      stations_(stations),
      desktops_(desktops),
      apps_(std::move(apps)),
      request_(std::move(request)),
      answer_later_(std::move(answer_later)),
      defer_(std::move(defer)) {}

void StationCommands::fill(Envelope::Builder reply, const std::vector<Result>& results) {
  auto list = reply.initStationResults().initResults(static_cast<unsigned>(results.size()));
  for (unsigned i = 0; i < results.size(); ++i) {
    list[i].setStationKey(results[i].station);
    list[i].setOk(results[i].ok);
    list[i].setReason(results[i].reason);
  }
}

std::string StationCommands::stations_named(capnp::List<capnp::Text>::Reader keys,
                                            const std::string& except, std::vector<Station>* found,
                                            std::vector<Result>* results) {
  if (keys.size() > kMaxStations) {
    return "more than " + std::to_string(kMaxStations) + " stations named";
  }
  if (keys.size() == 0) {
    for (auto& station : store_.stations()) {
      if (station.key != except) found->push_back(std::move(station));
    }
    return "";
  }
  std::set<std::string> seen;
  for (auto key_text : keys) {
    std::string key = wire_text(key_text);
    if (auto e = check_text("station", key, kMaxKeyBytes); !e.empty()) return e;
    if (!seen.insert(key).second) continue;
    if (key == except) {
      results->push_back({key, false, "it is the station being shown"});
    } else if (auto station = store_.station(key)) {
      found->push_back(std::move(*station));
    } else {
      results->push_back({key, false, "no such station"});
    }
  }
  return "";
}

std::shared_ptr<StationCommands::Pending> StationCommands::pending(std::vector<Result> results) {
  auto p = std::make_shared<Pending>();
  p->results = std::move(results);
  p->responder = answer_later_();
  return p;
}

// Projection -------------------------------------------------------------------------------

void StationCommands::project_start(mp::schema::ProjectStart::Reader body,
                                    Envelope::Builder reply) {
  std::string source_key = wire_text(body.getSource());
  if (auto e = check_text("source", source_key, kMaxKeyBytes); !e.empty() || source_key.empty()) {
    set_error(reply, Error::Kind::INVALID, e.empty() ? "name the station to project" : e);
    return;
  }
  auto source = store_.station(source_key);
  if (!source) {
    set_error(reply, Error::Kind::INVALID, "no station '" + source_key + "'");
    return;
  }
  auto record = source->session_id != 0 ? store_.session(source->session_id) : std::nullopt;
  if (!record || record->state == SessionState::ENDED || record->display.empty()) {
    set_error(reply, Error::Kind::INVALID,
              "station '" + source_key + "' has no desktop to project (nobody is logged on)");
    return;
  }
  std::vector<Station> targets;
  std::vector<Result> results;
  if (auto e = stations_named(body.getTargets(), source_key, &targets, &results); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  std::vector<std::string> keys;
  for (const auto& target : targets) {
    keys.push_back(target.key);
    told_[target.key] = target.attached_at_ns;  // told right here, not again by station_changed
  }
  stations_.set_showing(keys, source_key);
  spdlog::info("projecting {} ({}) onto {} stations", source_key, record->display, keys.size());
  auto p = pending(std::move(results));
  for (const auto& target : targets) {
    if (target.state != StationState::ATTACHED) {
      p->results.push_back({target.key, true, "not connected now: shows it when it connects"});
      continue;
    }
    ++p->waiting;
    show(target, &*record, [p](Result r) { p->add(std::move(r)); });
  }
  p->release();
}

void StationCommands::project_stop(mp::schema::ProjectStop::Reader body, Envelope::Builder reply) {
  std::vector<Station> named;
  std::vector<Result> results;
  if (auto e = stations_named(body.getTargets(), "", &named, &results); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  bool all = body.getTargets().size() == 0;
  std::vector<Station> targets;
  for (auto& station : named) {
    if (!station.showing.empty()) {
      targets.push_back(std::move(station));
    } else if (!all) {
      results.push_back({station.key, true, "it shows its own desktop"});
    }
  }
  std::vector<std::string> keys;
  for (const auto& target : targets) keys.push_back(target.key);
  stations_.set_showing(keys, "");
  auto p = pending(std::move(results));
  for (const auto& target : targets) {
    if (target.state != StationState::ATTACHED) {
      p->results.push_back({target.key, true, ""});
      continue;
    }
    ++p->waiting;
    show(target, nullptr, [p](Result r) { p->add(std::move(r)); });
  }
  p->release();
}

void StationCommands::show(const Station& target, const SessionRecord* source,
                           std::function<void(Result)> done) {
  std::string key = target.key;
  request_(
      target.transport,
      [&](Envelope::Builder e) {
        auto show = e.initStationShow();
        show.setStationKey(target.key);
        if (source == nullptr) return;  // its own desktop again
        show.setDisplay(source->display);
        show.setXauthority(source->xauthority);
        show.setWidth(source->width);
        show.setHeight(source->height);
        show.setViewOnly(true);
        show.setSourceKey(source->station_key);
      },
      [key, done = std::move(done)](mp::bus::Reply reply) {
        if (!reply.ok())
          spdlog::warn("station {}: the transport refused: {}", key, reply.error_text());
        done({key, reply.ok(), reply.ok() ? "" : reply.error_text()});
      });
}

void StationCommands::stop_showing(const std::vector<std::string>& stations) {
  stations_.set_showing(stations, "");
  for (const auto& key : stations) {
    auto station = store_.station(key);
    if (station && station->state == StationState::ATTACHED) show(*station, nullptr, [](Result) {});
  }
}

void StationCommands::station_changed(const Station& station) {
  if (station.showing.empty() || station.state != StationState::ATTACHED) {
    if (station.showing.empty()) told_.erase(station.key);
    return;
  }
  if (auto it = told_.find(station.key);
      it != told_.end() && it->second == station.attached_at_ns) {
    return;
  }
  told_[station.key] = station.attached_at_ns;
  std::string key = station.key;
  // After the change that called us is fully handled: this may change the state again.
  defer_([this, key] {
    auto target = store_.station(key);
    if (!target || target->showing.empty()) return;
    auto source = store_.station(target->showing);
    auto record =
        source && source->session_id != 0 ? store_.session(source->session_id) : std::nullopt;
    if (!record || record->state == SessionState::ENDED || record->display.empty()) {
      stop_showing({key});
      return;
    }
    spdlog::info("station {} is back: it shows {} again", key, target->showing);
    show(*target, &*record, [](Result) {});
  });
}

void StationCommands::session_changed(const SessionRecord& record) {
  if (record.state != SessionState::ENDED) return;
  std::string source = record.station_key;
  defer_([this, source] {
    std::vector<std::string> showing_it;
    for (const auto& station : store_.stations()) {
      if (station.showing == source) showing_it.push_back(station.key);
    }
    if (showing_it.empty()) return;
    spdlog::info("the session projected from {} ended: {} stations show their own again", source,
                 showing_it.size());
    stop_showing(showing_it);
  });
}

// Disconnect -------------------------------------------------------------------------------

void StationCommands::disconnect(mp::schema::StationDisconnect::Reader body,
                                 Envelope::Builder reply) {
  std::vector<Station> stations;
  std::vector<Result> results;
  if (auto e = stations_named(body.getStations(), "", &stations, &results); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  bool all = body.getStations().size() == 0;
  auto p = pending(std::move(results));
  for (const auto& station : stations) {
    if (station.state != StationState::ATTACHED) {
      if (!all) p->results.push_back({station.key, false, "not connected"});
      continue;
    }
    ++p->waiting;
    std::string key = station.key;
    request_(
        station.transport,
        [&](Envelope::Builder e) {
          auto request = e.initStationDisconnectRequest();
          request.setStationKey(key);
          request.setReason("disconnected by the operator");
        },
        [p, key](mp::bus::Reply r) {
          p->add({key, r.ok(), r.ok() ? "" : r.error_text()});
        });
  }
  p->release();
}

// Applications -----------------------------------------------------------------------------

void StationCommands::list_apps(Envelope::Builder reply) {
  auto list = reply.initAppList().initApps(static_cast<unsigned>(apps_.apps().size()));
  for (unsigned i = 0; i < apps_.apps().size(); ++i) {
    const App& app = apps_.apps()[i];
    list[i].setName(app.name);
    auto words = list[i].initCommand(static_cast<unsigned>(app.command.size()));
    for (unsigned j = 0; j < app.command.size(); ++j) words.set(j, app.command[j]);
  }
}

// The catalogue's entry `name`, or an error in `reply`.
const App* StationCommands::app_named(capnp::Text::Reader name_text, Envelope::Builder reply) {
  std::string name = wire_text(name_text);
  if (auto e = check_text("app", name, kMaxAppNameBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return nullptr;
  }
  const App* app = apps_.find(name);
  if (app == nullptr) {
    std::string known;
    for (const auto& a : apps_.apps()) known += (known.empty() ? "" : ", ") + a.name;
    set_error(
        reply, Error::Kind::INVALID,
        "no application '" + name + "' in the list (" + (known.empty() ? "empty" : known) + ")");
  }
  return app;
}

void StationCommands::for_each_session(
    capnp::List<capnp::Text>::Reader keys, Envelope::Builder reply,
    const std::function<Result(const Station&, std::uint64_t session_id)>& act) {
  std::vector<Station> stations;
  std::vector<Result> results;
  if (auto e = stations_named(keys, "", &stations, &results); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  bool all = keys.size() == 0;
  for (const auto& station : stations) {
    auto record = station.session_id != 0 ? store_.session(station.session_id) : std::nullopt;
    if (!record || record->state == SessionState::ENDED) {
      if (!all) results.push_back({station.key, false, "nobody is logged on"});
      continue;
    }
    results.push_back(act(station, record->id));
  }
  fill(reply, results);
}

void StationCommands::launch(mp::schema::AppLaunch::Reader body, Envelope::Builder reply) {
  const App* app = app_named(body.getApp(), reply);
  if (app == nullptr) return;
  std::vector<std::string> command = app->command;
  command.front() = program_path(command.front());
  if (command.front().empty()) {
    set_error(reply, Error::Kind::UNAVAILABLE,
              "'" + app->name + "' is not installed (" + app->command.front() + ")");
    return;
  }
  for_each_session(body.getStations(), reply, [&](const Station& station, std::uint64_t id) {
    std::string reason;
    bool ok = desktops_.launch_app(id, command, &reason);
    return Result{station.key, ok, reason};
  });
}

void StationCommands::close(mp::schema::AppClose::Reader body, Envelope::Builder reply) {
  const App* app = app_named(body.getApp(), reply);
  if (app == nullptr) return;
  std::string program = std::filesystem::path(app->command.front()).filename().string();
  for_each_session(body.getStations(), reply, [&](const Station& station, std::uint64_t id) {
    std::string reason;
    int closed = desktops_.close_app(id, program, &reason);
    if (closed == 0) reason = "it was not running";
    return Result{station.key, closed >= 0, reason};
  });
}

}  // namespace mp::session
