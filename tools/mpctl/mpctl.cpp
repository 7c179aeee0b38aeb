#include "mpctl.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <iostream>

#include "all_pages.h"
#include "mp/bus/tap.h"
#include "tables.h"

namespace mp::mpctl {

using mp::schema::Envelope;
using mp::schema::Error;

namespace {

std::int64_t realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void print_line(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);  // a tap is read line by line by other programs
}

void print_json(const nlohmann::json& value) {
  print_line(value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace

Mpctl::Mpctl(MpctlOptions options) : options_(options), bus_(std::move(options)) {}

Mpctl::~Mpctl() = default;

std::optional<int> Mpctl::check_reachable() { return bus_.unreachable(); }

mp::bus::Client& Mpctl::client() { return bus_.client(); }

mp::bus::Reply Mpctl::ask(std::string_view service, const mp::bus::Build& body,
                          const std::string& idempotency_key) {
  return bus_.ask_with_key(service, body, idempotency_key);
}

int Mpctl::report_failure(std::string_view service, const mp::bus::Reply& reply) {
  return bus_.failure(reply, service);
}

int Mpctl::status(bool json) {
  if (auto failed = check_reachable()) return *failed;
  std::vector<ServiceRow> rows;
  auto reply = ask("supervisor", [](Envelope::Builder envelope) { envelope.initStatusRequest(); });
  if (reply.ok() && reply.envelope().isStatusReport()) {
    rows = rows_from_status(reply.envelope().getStatusReport(), realtime_ns());
  } else if (reply.message && reply.error_kind() == Error::Kind::UNAVAILABLE) {
    // No supervisor (services run as systemd units): what the bus knows, without restarts.
    auto bus_reply =
        ask("bus", [](Envelope::Builder envelope) { envelope.initBusStatusRequest(); });
    if (!bus_reply.ok() || !bus_reply.envelope().isBusStatus()) {
      return report_failure("bus", bus_reply);
    }
    if (!json) std::cerr << "mpctl: no supervisor on the bus; showing what the bus knows\n";
    rows = rows_from_bus_status(bus_reply.envelope().getBusStatus(), realtime_ns());
  } else {
    return report_failure("supervisor", reply);
  }
  if (json) {
    print_json(services_json(rows));
  } else {
    std::fputs(services_table(rows).c_str(), stdout);
  }
  return exit_code::ok;
}

int Mpctl::stations(bool json) {
  if (auto failed = check_reachable()) return *failed;
  auto reply = all_pages(
      [&](const std::string& cursor) {
        return ask("session",
                   [&](Envelope::Builder e) { e.initStationListRequest().setCursor(cursor); });
      },
      [](Envelope::Reader e) -> std::optional<std::string> {
        if (!e.isStationList()) return std::nullopt;
        return std::string(e.getStationList().getNextCursor());
      });
  if (!reply.ok() || !reply.envelope().isStationList()) return report_failure("session", reply);
  auto list = reply.envelope().getStationList();
  if (json) {
    print_json(stations_json(list));
  } else {
    std::fputs(stations_table(list).c_str(), stdout);
  }
  return exit_code::ok;
}

int Mpctl::user_add(const std::string& name, mp::schema::Role role, const std::string& password) {
  if (auto failed = check_reachable()) return *failed;
  auto reply = ask(
      "session",
      [&](Envelope::Builder envelope) {
        auto add = envelope.initUserAdd();
        add.setName(name);
        add.setRole(role);
        add.setPassword(password);
      },
      random_key());
  if (!reply.ok() || !reply.envelope().isAck()) return report_failure("session", reply);
  std::cout << "user " << name << " added (" << role_name(role) << ")" << std::endl;
  return exit_code::ok;
}

int Mpctl::user_modify(const std::string& name, mp::schema::Role role,
                       const std::string& password) {
  if (auto failed = check_reachable()) return *failed;
  auto reply = ask(
      "session",
      [&](Envelope::Builder envelope) {
        auto modify = envelope.initUserModify();
        modify.setName(name);
        modify.setRole(role);
        modify.setPassword(password);
      },
      random_key());
  if (!reply.ok() || !reply.envelope().isAck()) return report_failure("session", reply);
  auto detail = reply.envelope().getAck().getDetail();
  std::cout << "user " << name << ": " << std::string(detail.begin(), detail.size()) << std::endl;
  return exit_code::ok;
}

int Mpctl::user_list(bool json) {
  if (auto failed = check_reachable()) return *failed;
  auto reply = all_pages(
      [&](const std::string& cursor) {
        return ask("session",
                   [&](Envelope::Builder e) { e.initUserListRequest().setCursor(cursor); });
      },
      [](Envelope::Reader e) -> std::optional<std::string> {
        if (!e.isUserList()) return std::nullopt;
        return std::string(e.getUserList().getNextCursor());
      });
  if (!reply.ok() || !reply.envelope().isUserList()) return report_failure("session", reply);
  auto list = reply.envelope().getUserList();
  if (json) {
    print_json(users_json(list));
  } else {
    std::fputs(users_table(list).c_str(), stdout);
  }
  return exit_code::ok;
}

int Mpctl::control(const std::string& service, mp::schema::ServiceControl::Action action) {
  if (auto failed = check_reachable()) return *failed;
  auto reply = ask(
      "supervisor",
      [&](Envelope::Builder envelope) {
        auto command = envelope.initServiceControl();
        command.setService(service);
        command.setAction(action);
      },
      random_key());
  if (!reply.ok() || !reply.envelope().isAck()) return report_failure("supervisor", reply);
  std::string detail = reply.envelope().getAck().getDetail();
  std::cout << (detail.empty() ? "done" : detail) << std::endl;
  return exit_code::ok;
}

int Mpctl::tap(const std::string& prefix, bool json, std::uint64_t count) {
  if (auto failed = check_reachable()) return *failed;
  mp::bus::Reactor& reactor = bus_.reactor();
  reactor.stop_on_signals();
  std::uint64_t seen = 0;
  mp::bus::TapSubscriber subscriber(
      bus_.context(), reactor, bus_.endpoints(), prefix, mp::bus::Limits{},
      [&](std::string_view topic, const mp::bus::Incoming& message) {
        if (json) {
          nlohmann::json topic_json = std::string(topic);
          print_line("{\"topic\":" +
                     topic_json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                     ",\"message\":" + mp::bus::envelope_to_json(message.envelope()) + "}");
        } else {
          print_line(std::string(topic) + "  " + mp::bus::envelope_to_text(message.envelope()));
        }
        if (count != 0 && ++seen >= count) reactor.stop();
      });
  reactor.run();
  return exit_code::ok;
}

std::optional<std::string> read_password(int fd, const std::string& prompt) {
  termios saved{};
  const bool terminal = isatty(fd) != 0 && tcgetattr(fd, &saved) == 0;
  if (terminal) {
    std::cerr << prompt << std::flush;
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  std::string line;
  bool got_any = false;
  char c;
  while (true) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got_any = true;
    if (c == '\n') break;
    line.push_back(c);
  }
  if (terminal) {
    tcsetattr(fd, TCSAFLUSH, &saved);
    std::cerr << "\n";
  }
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (!got_any) return std::nullopt;
  return line;
}

}  // namespace mp::mpctl
