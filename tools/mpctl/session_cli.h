// The session commands on mpctl's command line: `message`, `logoff`, `sessions` (service
// "session"). Registered on the app before parsing; run() after parsing sends the request and
// prints the answer. Same exit codes as every mpctl command (bus_command.h).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mpctl.h"
#include "session.capnp.h"

namespace mp::mpctl {

class SessionCli {
 public:
  explicit SessionCli(CLI::App& app);
  // The exit code of the session command given, or nullopt when the command was another one.
  std::optional<int> run(BusCommand& bus);

 private:
  int message(BusCommand& bus);
  int logoff(BusCommand& bus);
  int sessions(BusCommand& bus);

  CLI::App* message_ = nullptr;
  CLI::App* logoff_ = nullptr;
  CLI::App* sessions_ = nullptr;
  std::vector<std::string> message_args_;
  bool message_all_ = false;
  std::string from_;
  std::string station_;
  bool json_ = false;
};

// Pure, for tests: the session list as a table and as JSON.
std::string sessions_table(mp::schema::SessionList::Reader list);
nlohmann::json sessions_json(mp::schema::SessionList::Reader list);
std::string session_state_name(mp::schema::SessionState state);

}  // namespace mp::mpctl
