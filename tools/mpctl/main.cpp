// mpctl: the operator CLI. Thin: parse the command line, then one Mpctl command.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <iostream>
#include <string>

#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "mpctl.h"
#include "policy_cli.h"
#include "session_cli.h"
#include "station_cli.h"
#include "tables.h"

int main(int argc, char** argv) {
  using mp::mpctl::exit_code::usage;
  using Action = mp::schema::ServiceControl::Action;

  CLI::App app{"mpctl: operate a multipoint host over its bus"};
  app.fallthrough();  // global options may follow the command: mpctl status --runtime-dir DIR
  app.require_subcommand(1);
  std::string runtime_dir = mp::bus::default_runtime_dir();
  int timeout_ms = 3000;
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--timeout", timeout_ms, "how long to wait for an answer, in ms")
      ->check(CLI::Range(1, 3'600'000))
      ->capture_default_str();

  bool json = false;
  auto* status =
      app.add_subcommand("status", "services: pid, incarnation, state, uptime, restarts");
  status->add_flag("--json", json, "a JSON array instead of a table");

  auto* stations = app.add_subcommand("stations", "stations: key, name, transport, state");
  stations->add_flag("--json", json, "a JSON array instead of a table");

  auto* user = app.add_subcommand("user", "manage the users who may log on");
  user->require_subcommand(1);
  std::string user_name;
  std::string role;
  bool password_stdin = false;
  auto* user_add = user->add_subcommand("add", "add a user; the password is read from stdin");
  user_add->add_option("NAME", user_name, "the user's name")->required();
  user_add->add_option("--role", role, "standard, admin or dashboard")
      ->required()
      ->check(CLI::IsMember({"standard", "admin", "dashboard"}));
  user_add
      ->add_flag("--password-stdin", password_stdin,
                 "read the password from stdin (it never goes on the command line)")
      ->required();
  auto* user_set_role = user->add_subcommand("set-role", "change a user's role");
  user_set_role->add_option("NAME", user_name, "the user's name")->required();
  user_set_role->add_option("ROLE", role, "standard, admin or dashboard")
      ->required()
      ->check(CLI::IsMember({"standard", "admin", "dashboard"}));
  auto* user_passwd =
      user->add_subcommand("passwd", "reset a user's password; the new one is read from stdin");
  user_passwd->add_option("NAME", user_name, "the user's name")->required();
  user_passwd
      ->add_flag("--password-stdin", password_stdin,
                 "read the password from stdin (it never goes on the command line)")
      ->required();
  auto* user_list = user->add_subcommand("list", "list the users");
  user_list->add_flag("--json", json, "a JSON array instead of a table");

  std::string service;
  Action action = Action::UNKNOWN;
  for (auto [name, what, value] :
       {std::tuple{"restart", "restart a service", Action::RESTART},
        std::tuple{"stop", "stop a service until started again", Action::STOP},
        std::tuple{"start", "start a stopped or failed service", Action::START}}) {
    auto* command = app.add_subcommand(name, what);
    command->add_option("SERVICE", service, "e.g. session or mp-session")->required();
    command->callback([&action, value] { action = value; });
  }

  auto* tap = app.add_subcommand("tap", "print every message on the bus, one line each");
  std::string prefix;
  std::uint64_t count = 0;
  tap->add_flag("--json", json, "one JSON object per line: {\"topic\":..,\"message\":..}");
  tap->add_option("--count", count, "exit after this many messages")->check(CLI::PositiveNumber);
  tap->add_option("TOPIC-PREFIX", prefix, "only topics starting with this (default: all)");

  mp::mpctl::PolicyCli policy(app);
  mp::mpctl::SessionCli session_commands(app);
  mp::mpctl::StationCli station_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : usage;
  }

  // The library's own logs go to stderr and only when they matter: stdout is for answers.
  mp::bus::setup_logging("mpctl", "warn");
  mp::mpctl::MpctlOptions mpctl_options{.runtime_dir = runtime_dir,
                                        .timeout = std::chrono::milliseconds(timeout_ms),
                                        .operator_name = mp::mpctl::current_operator()};
  mp::mpctl::Mpctl mpctl(mpctl_options);
  if (auto code = policy.run(mpctl)) return *code;
  if (auto code = session_commands.run(mpctl.bus())) return *code;
  if (auto code = station_commands.run(mpctl.bus())) return *code;
  if (status->parsed()) return mpctl.status(json);
  if (stations->parsed()) return mpctl.stations(json);
  if (user_list->parsed()) return mpctl.user_list(json);
  if (user_add->parsed()) {
    auto password = mp::mpctl::read_password(STDIN_FILENO, "Password for " + user_name + ": ");
    if (!password || password->empty()) {
      std::cerr << "mpctl: user add: no password on stdin (give it as one line)\n";
      return usage;
    }
    return mpctl.user_add(user_name, *mp::mpctl::role_from_name(role), *password);
  }
  if (user_set_role->parsed()) {
    return mpctl.user_modify(user_name, *mp::mpctl::role_from_name(role), "");
  }
  if (user_passwd->parsed()) {
    auto password = mp::mpctl::read_password(STDIN_FILENO, "New password for " + user_name + ": ");
    if (!password || password->empty()) {
      std::cerr << "mpctl: user passwd: no password on stdin (give it as one line)\n";
      return usage;
    }
    return mpctl.user_modify(user_name, mp::schema::Role::UNKNOWN, *password);
  }
  if (tap->parsed()) return mpctl.tap(prefix, json, count);
  if (action != Action::UNKNOWN) return mpctl.control(service, action);
  std::cerr << app.help();
  return usage;
}
