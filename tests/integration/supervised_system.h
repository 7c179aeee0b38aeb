// The whole embedded system as `./mp up` runs it — mp-supervisor starting bus, session and a
// fake transport — on a private runtime dir, with a test client on its bus.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "mp/bus/client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {

struct ServiceInfo {
  pid_t pid = 0;
  std::uint64_t incarnation = 0;
  std::uint32_t restarts = 0;
  mp::schema::ServiceState state = mp::schema::ServiceState::UNKNOWN;
};

class SupervisedSystem {
 public:
  explicit SupervisedSystem(const std::string& services);
  ~SupervisedSystem();

  const std::filesystem::path& runtime_dir() const { return runtime_dir_; }
  mp::bus::Client& client() { return *client_; }
  mp::bus::Reactor& reactor() { return reactor_; }

  // From the supervisor's status report (empty if it did not answer).
  std::map<std::string, ServiceInfo> services();
  // From the broker: which services are registered now, with incarnations.
  std::map<std::string, std::uint64_t> registered();
  bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
  void pause(std::chrono::milliseconds time);
  std::string log() const;

 private:
  TempDir dir_{"mpi"};
  std::filesystem::path runtime_dir_;
  std::unique_ptr<ChildProcess> supervisor_;
  zmq::context_t context_;
  mp::bus::Reactor reactor_;
  std::unique_ptr<mp::bus::Client> client_;
};

}  // namespace mp::test
