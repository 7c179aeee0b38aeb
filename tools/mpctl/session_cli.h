// The session commands on mpctl's command line: `message`, `logoff`, `sessions` (service
// "session"). Registered on the app before parsing; run() after parsing sends the request and
// prints the answer. Same exit codes as every mpctl command (mpctl.h).
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
  std::optional<int> run(const MpctlOptions& options);

 private:
  int message(mp::bus::Client& client, const MpctlOptions& options);
  int logoff(mp::bus::Client& client, const MpctlOptions& options);
  int sessions(mp::bus::Client& client, const MpctlOptions& options);

  CLI::App* message_ = nullptr;
  CLI::App* logoff_ = nullptr;
  CLI::App* sessions_ = nullptr;
  std::vector<std::string> message_args_;
  bool message_all_ = false;
  std::string from_;
  std::string station_;
  bool json_ = false;
};

// Shared by the commands that talk to mp-session (and the supervisor).
// Prints why `reply` is not the answer wanted; the exit code for it.
int failure(const mp::bus::Reply& reply, const MpctlOptions& options);
// A request to `service`; mutating ones get an idempotency key and are retried.
mp::bus::Reply ask(mp::bus::Client& client, const MpctlOptions& options, const mp::bus::Build& body,
                   bool mutating, const std::string& service = "session");
// Writes what was done into mp-policy's audit log; a failure is a warning on stderr.
void audit(mp::bus::Client& client, const MpctlOptions& options, const std::string& action,
           const std::string& detail, const std::vector<std::string>& stations);
// The exit code when the bus socket is not there (with the message printed), else nullopt.
std::optional<int> bus_missing(const MpctlOptions& options);

// Pure, for tests: the session list as a table and as JSON.
std::string sessions_table(mp::schema::SessionList::Reader list);
nlohmann::json sessions_json(mp::schema::SessionList::Reader list);
std::string session_state_name(mp::schema::SessionState state);

}  // namespace mp::mpctl
