// mpctl's commands that act on stations through their transports and sessions:
//   project SOURCE [--to STATION...]      show SOURCE's desktop on those stations (default: all)
//   project --stop [STATION...]           they show their own desktops again (default: all)
//   disconnect STATION...|--all           end the client connections; sessions are kept
//   app list | app launch|close NAME STATION...|--all
//   server restart|shutdown --yes         through the supervisor's configured power command
//   station allow-new [on|off]            whether stations never seen before may log on
//   station admit STATION...              admit stations (they may log on; no longer "new")
// Registered on the app before parsing; run() after parsing. Exit codes as in bus_command.h.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mpctl.h"
#include "session.capnp.h"

namespace mp::mpctl {

class StationCli {
 public:
  explicit StationCli(CLI::App& app);
  std::optional<int> run(BusCommand& bus);

 private:
  int project(BusCommand& bus);
  int disconnect(BusCommand& bus);
  int apps(BusCommand& bus);
  int server(BusCommand& bus);
  int admission(BusCommand& bus);

  CLI::App* project_ = nullptr;
  CLI::App* disconnect_ = nullptr;
  CLI::App* app_ = nullptr;
  CLI::App* app_list_ = nullptr;
  CLI::App* app_launch_ = nullptr;
  CLI::App* app_close_ = nullptr;
  CLI::App* server_ = nullptr;
  CLI::App* station_ = nullptr;
  CLI::App* allow_new_ = nullptr;
  CLI::App* admit_ = nullptr;
  std::string allow_new_value_;
  std::vector<std::string> args_;
  std::vector<std::string> to_;
  bool stop_ = false;
  bool all_ = false;
  bool yes_ = false;
  std::string app_name_;
  std::string power_action_;
};

// Prints one line per station ("key: done" or "key: not done: why"); exit_code::refused when any
// was not done.
int print_results(mp::schema::StationResults::Reader results, const std::string& done_word);

}  // namespace mp::mpctl
