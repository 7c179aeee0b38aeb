// mpctl's commands: each asks the service that owns the answer over the bus and prints it.
// Exit codes: 0 ok, 1 refused or failed (the bus error is printed), 2 bad arguments,
// 3 the bus is unreachable or did not answer in time.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/reactor.h"
#include "session.capnp.h"
#include "supervisor.capnp.h"

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
};

class Mpctl {
 public:
  explicit Mpctl(MpctlOptions options);
  ~Mpctl();
  Mpctl(const Mpctl&) = delete;
  Mpctl& operator=(const Mpctl&) = delete;

  int status(bool json);
  int stations(bool json);
  int user_add(const std::string& name, mp::schema::Role role, const std::string& password);
  int user_list(bool json);
  int control(const std::string& service, mp::schema::ServiceControl::Action action);
  // Prints every message on the tap under `prefix` until SIGINT/SIGTERM, or `count` messages.
  int tap(const std::string& prefix, bool json, std::uint64_t count);

 private:
  // Fails (exit code 3, message printed) when the bus's request socket does not exist.
  std::optional<int> check_reachable();
  mp::bus::Client& client();
  mp::bus::Reply ask(std::string_view service, const mp::bus::Build& body,
                     const std::string& idempotency_key = {});
  // Prints why `reply` is not the answer wanted; returns the exit code for it.
  int report_failure(std::string_view service, const mp::bus::Reply& reply);

  MpctlOptions options_;
  mp::bus::Endpoints endpoints_;
  mp::bus::Reactor reactor_;
  zmq::context_t context_;
  std::unique_ptr<mp::bus::Client> client_;
};

// One line from `fd` without its trailing \r\n; prompts without echo when fd is a terminal.
// nullopt when nothing was read.
std::optional<std::string> read_password(int fd, const std::string& prompt);
// 32 random hex digits: an idempotency key for a mutating request.
std::string random_key();

}  // namespace mp::mpctl
