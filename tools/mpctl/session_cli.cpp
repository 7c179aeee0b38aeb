#include "session_cli.h"

#include <sys/stat.h>

#include <iostream>

#include "all_pages.h"
#include "tables.h"

namespace mp::mpctl {

using mp::schema::Envelope;
using mp::schema::Error;

namespace {

std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

int usage_error(const std::string& message) {
  std::cerr << "mpctl: " << message << "\n";
  return exit_code::usage;
}

}  // namespace

std::string session_state_name(mp::schema::SessionState state) {
  switch (state) {
    case mp::schema::SessionState::ACTIVE:
      return "active";
    case mp::schema::SessionState::DISCONNECTED:
      return "disconnected";
    case mp::schema::SessionState::ENDED:
      return "ended";
    default:
      return "unknown";
  }
}

std::string sessions_table(mp::schema::SessionList::Reader list) {
  std::vector<std::vector<std::string>> rows;
  for (auto s : list.getSessions()) {
    rows.push_back({std::to_string(s.getId()), text(s.getStationKey()), text(s.getUser()),
                    text(s.getUnixUser()), text(s.getDisplay()),
                    std::to_string(s.getWidth()) + "x" + std::to_string(s.getHeight()),
                    session_state_name(s.getState()), s.getAgentUp() ? "up" : "down"});
  }
  return render_table({"ID", "STATION", "USER", "UNIX USER", "DISPLAY", "SIZE", "STATE", "AGENT"},
                      rows);
}

nlohmann::json sessions_json(mp::schema::SessionList::Reader list) {
  auto out = nlohmann::json::array();
  for (auto s : list.getSessions()) {
    out.push_back({{"id", s.getId()},
                   {"station", text(s.getStationKey())},
                   {"user", text(s.getUser())},
                   {"unix_user", text(s.getUnixUser())},
                   {"display", text(s.getDisplay())},
                   {"xauthority", text(s.getXauthority())},
                   {"width", s.getWidth()},
                   {"height", s.getHeight()},
                   {"state", session_state_name(s.getState())},
                   {"agent_up", s.getAgentUp()},
                   {"started_at_ns", s.getStartedAtNs()}});
  }
  return out;
}

SessionCli::SessionCli(CLI::App& app) {
  message_ = app.add_subcommand("message", "an instant message: message STATION|--all TEXT");
  message_->add_option("ARGS", message_args_, "STATION (unless --all), then TEXT");
  message_->add_flag("--all", message_all_, "every active session");
  message_->add_option("--from", from_, "the sender shown (default: you)");
  logoff_ = app.add_subcommand("logoff", "log off the session shown on a station");
  logoff_->add_option("STATION", station_, "a station key, e.g. rdp:lab-3")->required();
  sessions_ = app.add_subcommand("sessions", "sessions: station, user, display, state, agent");
  sessions_->add_flag("--json", json_, "a JSON array instead of a table");
}

std::optional<int> SessionCli::run(BusCommand& bus) {
  if (!message_->parsed() && !logoff_->parsed() && !sessions_->parsed()) return std::nullopt;
  if (message_->parsed()) {
    std::size_t wanted = message_all_ ? 1 : 2;
    if (message_args_.size() != wanted) {
      return usage_error(
          "message: give STATION TEXT, or --all TEXT (quote the text: it is one argument)");
    }
    if (message_args_.back().empty()) return usage_error("message: the text is empty");
  }
  if (auto missing = bus.unreachable()) return missing;
  if (message_->parsed()) return message(bus);
  if (logoff_->parsed()) return logoff(bus);
  return sessions(bus);
}

int SessionCli::message(BusCommand& bus) {
  std::string station = message_all_ ? "" : message_args_.front();
  std::string body_text = message_args_.back();
  auto reply = bus.ask(
      "session",
      [&](Envelope::Builder e) {
        auto body = e.initSendMessage();
        body.initStations(station.empty() ? 0 : 1);
        if (!station.empty()) body.getStations().set(0, station);
        body.setText(body_text);
        body.setFrom(from_.empty() ? bus.options().operator_name : from_);
      },
      true);
  if (!reply.ok() || !reply.envelope().isSendMessageResult()) return bus.failure(reply, "session");
  auto delivered = reply.envelope().getSendMessageResult().getDelivered();
  std::vector<std::string> reached;
  for (auto d : delivered) {
    if (d.getMessageId() != 0) reached.push_back(text(d.getStationKey()));
  }
  if (!reached.empty()) {
    bus.audit("message",
              "\"" + body_text + "\" to " + std::to_string(reached.size()) + " of " +
                  std::to_string(delivered.size()) + " stations",
              reached);
  }
  if (delivered.size() == 0) {
    std::cout << "no active sessions: nobody to send to" << std::endl;
    return exit_code::ok;
  }
  int code = exit_code::ok;
  for (auto d : delivered) {
    if (d.getMessageId() != 0) {
      std::cout << text(d.getStationKey()) << ": sent (message " << d.getMessageId() << ")\n";
    } else {
      std::cout << text(d.getStationKey()) << ": not sent: " << text(d.getReason()) << "\n";
      code = exit_code::refused;
    }
  }
  std::cout << std::flush;
  return code;
}

int SessionCli::logoff(BusCommand& bus) {
  auto reply = bus.ask(
      "session",
      [&](Envelope::Builder e) {
        auto body = e.initSessionEnd();
        body.setSessionId(0);
        body.setStationKey(station_);
      },
      true);
  if (!reply.ok() || !reply.envelope().isAck()) return bus.failure(reply, "session");
  std::string detail = text(reply.envelope().getAck().getDetail());
  bus.audit("log off", detail, {station_});
  std::cout << (detail.empty() ? "logged off" : detail) << std::endl;
  return exit_code::ok;
}

int SessionCli::sessions(BusCommand& bus) {
  auto reply = all_pages(
      [&](const std::string& cursor) {
        return bus.ask(
            "session", [&](Envelope::Builder e) { e.initSessionListRequest().setCursor(cursor); },
            false);
      },
      [](Envelope::Reader e) -> std::optional<std::string> {
        if (!e.isSessionList()) return std::nullopt;
        return std::string(e.getSessionList().getNextCursor());
      });
  if (!reply.ok() || !reply.envelope().isSessionList()) return bus.failure(reply, "session");
  auto list = reply.envelope().getSessionList();
  if (json_) {
    std::cout << sessions_json(list).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
              << std::endl;
  } else {
    std::cout << sessions_table(list) << std::flush;
  }
  return exit_code::ok;
}

}  // namespace mp::mpctl
