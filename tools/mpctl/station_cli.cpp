#include "station_cli.h"

#include <iostream>

#include "session_cli.h"

namespace mp::mpctl {

using mp::schema::Envelope;

namespace {

std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

int usage_error(const std::string& message) {
  std::cerr << "mpctl: " << message << "\n";
  return exit_code::usage;
}

void set_list(capnp::List<capnp::Text>::Builder list, const std::vector<std::string>& items) {
  for (unsigned i = 0; i < items.size(); ++i) list.set(i, items[i]);
}

std::vector<std::string> done_stations(mp::schema::StationResults::Reader results) {
  std::vector<std::string> done;
  for (auto r : results.getResults()) {
    if (r.getOk()) done.push_back(text(r.getStationKey()));
  }
  return done;
}

}  // namespace

int print_results(mp::schema::StationResults::Reader results, const std::string& done_word) {
  int code = exit_code::ok;
  if (results.getResults().size() == 0) std::cout << "no stations to act on\n";
  for (auto r : results.getResults()) {
    std::cout << text(r.getStationKey()) << ": ";
    if (r.getOk()) {
      std::cout << done_word;
      if (r.getReason().size() > 0) std::cout << " (" << text(r.getReason()) << ")";
    } else {
      std::cout << "not done: " << text(r.getReason());
      code = exit_code::refused;
    }
    std::cout << "\n";
  }
  std::cout << std::flush;
  return code;
}

StationCli::StationCli(CLI::App& app) {
  project_ = app.add_subcommand(
      "project",
      "project SOURCE [--to STATION...]: show a station's desktop on others (input "
      "blocked); project --stop [STATION...]: back to their own");
  project_->add_option("ARGS", args_, "SOURCE; with --stop the stations (default: all)");
  project_->add_option("--to", to_, "the stations that show it (default: every other)");
  project_->add_flag("--stop", stop_, "stop projecting");
  disconnect_ =
      app.add_subcommand("disconnect", "end stations' client connections; their sessions are kept");
  disconnect_->add_option("STATION", args_, "station keys, e.g. rdp:lab-3");
  disconnect_->add_flag("--all", all_, "every connected station");
  app_ = app.add_subcommand("app", "applications in students' sessions, by name");
  app_->require_subcommand(1);
  app_list_ = app_->add_subcommand("list", "the applications the administrator listed");
  app_launch_ = app_->add_subcommand("launch", "launch NAME STATION...|--all");
  app_close_ = app_->add_subcommand("close", "close NAME STATION...|--all");
  for (auto* command : {app_launch_, app_close_}) {
    command->add_option("NAME", app_name_, "as `mpctl app list` shows it")->required();
    command->add_option("STATION", args_, "station keys");
    command->add_flag("--all", all_, "every session");
  }
  server_ = app.add_subcommand("server", "server restart|shutdown --yes: the whole machine");
  server_->add_option("ACTION", power_action_, "restart or shutdown")
      ->required()
      ->check(CLI::IsMember({"restart", "shutdown"}));
  server_->add_flag("--yes", yes_, "confirm: every session on this server ends");
  station_ = app.add_subcommand("station", "which stations may log on");
  station_->require_subcommand(1);
  allow_new_ =
      station_->add_subcommand("allow-new",
                               "allow-new [on|off]: whether stations never seen before may log on "
                               "(without on/off: say which it is)");
  allow_new_->add_option("SETTING", allow_new_value_, "on or off")
      ->check(CLI::IsMember({"on", "off"}));
  admit_ = station_->add_subcommand(
      "admit",
      "admit STATION...: they may log on while new ones may not, and are no longer "
      "under the new-stations policy");
  admit_->add_option("STATION", args_, "station keys, e.g. rdp:lab-3")->required();
}

std::optional<int> StationCli::run(BusCommand& bus) {
  bool ours = project_->parsed() || disconnect_->parsed() || app_->parsed() || server_->parsed() ||
              station_->parsed();
  if (!ours) return std::nullopt;
  if (project_->parsed() && !stop_ && args_.size() != 1) {
    return usage_error("project: give the SOURCE station (and --to STATION... or nothing: all)");
  }
  if (project_->parsed() && stop_ && !to_.empty()) {
    return usage_error("project --stop: name the stations without --to");
  }
  bool needs_stations = disconnect_->parsed() || app_launch_->parsed() || app_close_->parsed();
  if (needs_stations && args_.empty() == !all_) {
    return usage_error("name the stations, or --all (not both)");
  }
  if (server_->parsed() && !yes_) {
    return usage_error("server " + power_action_ +
                       ": every session on this server ends; add --yes to confirm");
  }
  if (auto missing = bus.unreachable()) return missing;
  if (project_->parsed()) return project(bus);
  if (disconnect_->parsed()) return disconnect(bus);
  if (app_->parsed()) return apps(bus);
  if (station_->parsed()) return admission(bus);
  return server(bus);
}

int StationCli::admission(BusCommand& bus) {
  bool setting = allow_new_->parsed() && !allow_new_value_.empty();
  bool admitting = admit_->parsed();
  auto reply = bus.ask(
      "session",
      [&](Envelope::Builder e) {
        auto body = e.initStationAdmission();
        if (setting) {
          body.setSetAllowNew(true);
          body.setAllowNew(allow_new_value_ == "on");
        }
        if (admitting) set_list(body.initAdmit(static_cast<unsigned>(args_.size())), args_);
      },
      setting || admitting);
  if (!reply.ok() || !reply.envelope().isStationAdmissionState()) {
    return bus.failure(reply, "session");
  }
  auto state = reply.envelope().getStationAdmissionState();
  if (setting) bus.audit("new stations", state.getAllowNew() ? "allowed" : "refused", {});
  if (admitting) bus.audit("station admit", "", args_);
  for (auto key : state.getAdmitted()) std::cout << text(key) << ": admitted\n";
  std::cout << "new stations " << (state.getAllowNew() ? "may" : "may not") << " log on"
            << std::endl;
  return exit_code::ok;
}

int StationCli::project(BusCommand& bus) {
  auto reply = bus.ask(
      "session",
      [&](Envelope::Builder e) {
        if (stop_) {
          set_list(e.initProjectStop().initTargets(static_cast<unsigned>(args_.size())), args_);
          return;
        }
        auto body = e.initProjectStart();
        body.setSource(args_.front());
        set_list(body.initTargets(static_cast<unsigned>(to_.size())), to_);
      },
      true);
  if (!reply.ok() || !reply.envelope().isStationResults()) return bus.failure(reply, "session");
  auto results = reply.envelope().getStationResults();
  auto done = done_stations(results);
  if (!done.empty()) {
    bus.audit(stop_ ? "projection stopped" : "project",
              stop_ ? "" : args_.front() + " to " + std::to_string(done.size()) + " stations",
              done);
  }
  return print_results(results, stop_ ? "shows its own desktop" : "shows " + args_.front());
}

int StationCli::disconnect(BusCommand& bus) {
  auto reply = bus.ask(
      "session",
      [&](Envelope::Builder e) {
        set_list(e.initStationDisconnect().initStations(static_cast<unsigned>(args_.size())),
                 args_);
      },
      true);
  if (!reply.ok() || !reply.envelope().isStationResults()) return bus.failure(reply, "session");
  auto results = reply.envelope().getStationResults();
  if (auto done = done_stations(results); !done.empty()) {
    bus.audit("disconnect", "", done);
  }
  return print_results(results, "disconnected (its session is kept)");
}

int StationCli::apps(BusCommand& bus) {
  if (app_list_->parsed()) {
    auto reply = bus.ask(
        "session", [](Envelope::Builder e) { e.initAppListRequest(); }, false);
    if (!reply.ok() || !reply.envelope().isAppList()) return bus.failure(reply, "session");
    auto list = reply.envelope().getAppList().getApps();
    if (list.size() == 0) std::cout << "no applications listed (mp-session --apps FILE)\n";
    for (auto app : list) {
      std::cout << text(app.getName()) << ":";
      for (auto word : app.getCommand()) std::cout << " " << text(word);
      std::cout << "\n";
    }
    std::cout << std::flush;
    return exit_code::ok;
  }
  bool launch = app_launch_->parsed();
  auto reply = bus.ask(
      "session",
      [&](Envelope::Builder e) {
        if (launch) {
          auto body = e.initAppLaunch();
          body.setApp(app_name_);
          set_list(body.initStations(static_cast<unsigned>(args_.size())), args_);
        } else {
          auto body = e.initAppClose();
          body.setApp(app_name_);
          set_list(body.initStations(static_cast<unsigned>(args_.size())), args_);
        }
      },
      true);
  if (!reply.ok() || !reply.envelope().isStationResults()) return bus.failure(reply, "session");
  auto results = reply.envelope().getStationResults();
  if (auto done = done_stations(results); !done.empty()) {
    bus.audit(launch ? "launch application" : "close application", app_name_, done);
  }
  return print_results(results, launch ? "launched" : "closed");
}

int StationCli::server(BusCommand& bus) {
  bool restart = power_action_ == "restart";
  // Recorded first: once the command runs there may be nobody left to record it.
  bus.audit(restart ? "server restart" : "server shutdown", "", {});
  auto reply = bus.ask(
      "supervisor",
      [&](Envelope::Builder e) {
        e.initPowerRequest().setAction(restart ? mp::schema::PowerRequest::Action::RESTART
                                               : mp::schema::PowerRequest::Action::SHUTDOWN);
      },
      true);
  if (!reply.ok() || !reply.envelope().isAck()) return bus.failure(reply, "supervisor");
  std::cout << "the server " << (restart ? "restarts" : "shuts down") << " now" << std::endl;
  return exit_code::ok;
}

}  // namespace mp::mpctl
