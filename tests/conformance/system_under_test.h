// Real processes on a private runtime dir: mp-bus and mp-session started directly, and a test
// client on the same bus to ask questions.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mp/bus/client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {

struct StationView {
  std::string transport;
  mp::schema::StationState state;
  std::uint64_t session_id = 0;  // 0: no session shown on it
};

class SystemUnderTest {
 public:
  SystemUnderTest();
  ~SystemUnderTest();

  const std::filesystem::path& runtime_dir() const { return runtime_dir_; }
  const std::filesystem::path& state_dir() const { return state_dir_; }
  std::map<std::string, std::string> service_env() const;

  // Starts (or restarts) a service binary "mp-NAME" as a child process.
  void start(const std::string& name);
  void kill9(const std::string& name);
  bool running(const std::string& name);

  mp::bus::Client& client() { return *client_; }
  mp::bus::Reactor& reactor() { return reactor_; }
  // The incarnation the bus has registered for `service` now (0: none).
  std::uint64_t registered_incarnation(const std::string& service);
  // Waits until the bus lists `service` with an incarnation other than `not_this` (so a
  // restarted service is not mistaken for its dead predecessor).
  bool wait_registered(const std::string& service, std::chrono::milliseconds timeout,
                       std::uint64_t not_this = 0);
  // Stations as mp-session reports them now (empty map if it did not answer).
  std::map<std::string, StationView> stations();
  bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

 private:
  TempDir dir_{"mpc"};
  std::filesystem::path runtime_dir_;
  std::filesystem::path state_dir_;
  std::map<std::string, std::unique_ptr<ChildProcess>> children_;
  zmq::context_t context_;
  mp::bus::Reactor reactor_;
  std::unique_ptr<mp::bus::Client> client_;
};

}  // namespace mp::test
