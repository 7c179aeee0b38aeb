// The base every mpctl command stands on: one bus client for the run, the reachability check,
// requests with their retry rule, the audit record, and one exit-code policy for every verb.
//
// Exit codes (the same for every verb):
//   0  done
//   1  the service answered and refused or failed: error kinds failed, denied, invalid,
//      overloaded, unimplemented; an answer of an unexpected kind; a command done for only some
//      of its stations
//   2  bad arguments (nothing was sent)
//   3  no answer to be had: the bus socket is missing or not ours to use, nothing answered
//      within --timeout, or error kind `unavailable` (no such service on the bus, or it is
//      stopping)
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/reactor.h"

namespace mp::mpctl {

namespace exit_code {
inline constexpr int ok = 0;
inline constexpr int refused = 1;
inline constexpr int usage = 2;
inline constexpr int unreachable = 3;
}  // namespace exit_code

struct MpctlOptions {
  std::filesystem::path runtime_dir;
  std::chrono::milliseconds timeout{3000};
  std::string operator_name;  // header.operator: who the commands act for (see current_operator)
};

// The exit code for a reply that is not the answer wanted (see the table above).
int exit_code_for(const mp::bus::Reply& reply);

class BusCommand {
 public:
  explicit BusCommand(MpctlOptions options);
  ~BusCommand();
  BusCommand(const BusCommand&) = delete;
  BusCommand& operator=(const BusCommand&) = delete;

  // Exit code 3 (and why, on stderr) when the bus's request socket is missing or cannot be
  // used; else nullopt. Without it a missing bus would only show as a deadline passing.
  std::optional<int> unreachable() const;
  // A request to `service`; a mutating one carries a random idempotency key and is sent up to
  // three times within the timeout (the service applies it once).
  mp::bus::Reply ask(std::string_view service, const mp::bus::Build& body, bool mutating);
  // The same with a key of the caller's (empty: not mutating).
  mp::bus::Reply ask_with_key(std::string_view service, const mp::bus::Build& body,
                              const std::string& idempotency_key);
  // Prints why `reply` is not the answer wanted (naming the service that answered, else
  // `asked`); returns exit_code_for(reply).
  int failure(const mp::bus::Reply& reply, std::string_view asked) const;
  // Writes what was done into mp-policy's audit log. The action has happened either way: a
  // failure to record it is a warning on stderr, not an exit code.
  void audit(const std::string& action, const std::string& detail,
             const std::vector<std::string>& stations);

  const MpctlOptions& options() const { return options_; }
  const mp::bus::Endpoints& endpoints() const { return endpoints_; }
  mp::bus::Reactor& reactor() { return reactor_; }
  zmq::context_t& context() { return context_; }
  mp::bus::Client& client();

 private:
  MpctlOptions options_;
  mp::bus::Endpoints endpoints_;
  mp::bus::Reactor reactor_;
  zmq::context_t context_;
  std::unique_ptr<mp::bus::Client> client_;
};

// 32 random hex digits: an idempotency key for a mutating request.
std::string random_key();

}  // namespace mp::mpctl
