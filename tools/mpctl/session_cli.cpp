#include "session_cli.h"

#include <sys/stat.h>

#include <iostream>

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

// At most `max_bytes` of `text`, not cutting a UTF-8 sequence.
std::string utf8_prefix(const std::string& text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  std::size_t n = max_bytes;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}

}  // namespace

// Prints why `reply` is not the answer wanted; the exit code for it.
int failure(const mp::bus::Reply& reply, const MpctlOptions& options) {
  if (!reply.message) {
    if (reply.local_error == Error::Kind::UNAVAILABLE) {
      std::cerr << "mpctl: the bus did not answer within " << options.timeout.count() << " ms\n";
    } else {
      std::cerr << "mpctl: " << reply.local_error_text << "\n";
    }
    return exit_code::unreachable;
  }
  if (reply.message->is_error()) {
    std::string source = text(reply.envelope().getHeader().getSource());
    std::cerr << "mpctl: " << (source.empty() ? "session" : source) << ": "
              << error_kind_name(reply.error_kind()) << ": " << reply.error_text() << "\n";
    // No mp-session on the bus is the same situation as no bus: nothing to talk to.
    return reply.error_kind() == Error::Kind::UNAVAILABLE ? exit_code::unreachable
                                                          : exit_code::refused;
  }
  std::cerr << "mpctl: session answered with an unexpected " << mp::bus::body_name(reply.envelope())
            << "\n";
  return exit_code::refused;
}

mp::bus::Reply ask(mp::bus::Client& client, const MpctlOptions& options, const mp::bus::Build& body,
                   bool mutating, const std::string& service) {
  mp::bus::RequestOptions request{.deadline = options.timeout};
  if (mutating) {
    request.idempotency_key = random_key();
    request.attempts = 3;  // applied once whatever the number of sends
  }
  return client.call(service, body, request);
}

// Writes what was done into mp-policy's audit log (mp-session does not keep one). The action
// has happened either way: a failure to record it is said on stderr, not in the exit status.
void audit(mp::bus::Client& client, const MpctlOptions& options, const std::string& action,
           const std::string& detail, const std::vector<std::string>& stations) {
  // Short: without mp-policy the bus answers `unavailable` at once, and nothing is retried.
  auto reply = client.call(
      "policy",
      [&](Envelope::Builder e) {
        auto body = e.initAuditRecord();
        body.setAction(action);
        body.setDetail(utf8_prefix(detail, 1000));
        auto list = body.initStations(static_cast<unsigned>(stations.size()));
        for (unsigned i = 0; i < stations.size(); ++i) list.set(i, stations[i]);
      },
      mp::bus::RequestOptions{
          .deadline = std::min(options.timeout, std::chrono::milliseconds(2000)),
          .idempotency_key = random_key()});
  if (!reply.ok()) {
    std::cerr << "mpctl: warning: not in the audit log: " << reply.error_text() << "\n";
  }
}

std::optional<int> bus_missing(const MpctlOptions& options) {
  // Without this, a missing bus would only show as a deadline passing.
  auto endpoints = mp::bus::Endpoints::in_directory(options.runtime_dir);
  std::string path = endpoints.requests.substr(std::string_view("ipc://").size());
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    std::cerr << "mpctl: cannot reach the multipoint bus at " << path
              << ": no such socket (is multipoint running? try ./mp up)\n";
    return exit_code::unreachable;
  }
  return std::nullopt;
}

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

std::optional<int> SessionCli::run(const MpctlOptions& options) {
  if (!message_->parsed() && !logoff_->parsed() && !sessions_->parsed()) return std::nullopt;
  if (message_->parsed()) {
    std::size_t wanted = message_all_ ? 1 : 2;
    if (message_args_.size() != wanted) {
      return usage_error(
          "message: give STATION TEXT, or --all TEXT (quote the text: it is one argument)");
    }
    if (message_args_.back().empty()) return usage_error("message: the text is empty");
  }
  if (auto missing = bus_missing(options)) return missing;
  zmq::context_t context(1);
  mp::bus::Reactor reactor;
  mp::bus::Client client(
      context, reactor, mp::bus::Endpoints::in_directory(options.runtime_dir),
      mp::bus::ClientOptions{.service = "mpctl", .operator_name = options.operator_name});
  if (message_->parsed()) return message(client, options);
  if (logoff_->parsed()) return logoff(client, options);
  return sessions(client, options);
}

int SessionCli::message(mp::bus::Client& client, const MpctlOptions& options) {
  std::string station = message_all_ ? "" : message_args_.front();
  std::string body_text = message_args_.back();
  auto reply = ask(
      client, options,
      [&](Envelope::Builder e) {
        auto body = e.initSendMessage();
        body.initStations(station.empty() ? 0 : 1);
        if (!station.empty()) body.getStations().set(0, station);
        body.setText(body_text);
        body.setFrom(from_.empty() ? options.operator_name : from_);
      },
      true);
  if (!reply.ok() || !reply.envelope().isSendMessageResult()) return failure(reply, options);
  auto delivered = reply.envelope().getSendMessageResult().getDelivered();
  std::vector<std::string> reached;
  for (auto d : delivered) {
    if (d.getMessageId() != 0) reached.push_back(text(d.getStationKey()));
  }
  if (!reached.empty()) {
    audit(client, options, "message",
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

int SessionCli::logoff(mp::bus::Client& client, const MpctlOptions& options) {
  auto reply = ask(
      client, options,
      [&](Envelope::Builder e) {
        auto body = e.initSessionEnd();
        body.setSessionId(0);
        body.setStationKey(station_);
      },
      true);
  if (!reply.ok() || !reply.envelope().isAck()) return failure(reply, options);
  std::string detail = text(reply.envelope().getAck().getDetail());
  audit(client, options, "log off", detail, {station_});
  std::cout << (detail.empty() ? "logged off" : detail) << std::endl;
  return exit_code::ok;
}

int SessionCli::sessions(mp::bus::Client& client, const MpctlOptions& options) {
  auto reply = ask(
      client, options, [](Envelope::Builder e) { e.initSessionListRequest(); }, false);
  if (!reply.ok() || !reply.envelope().isSessionList()) return failure(reply, options);
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
