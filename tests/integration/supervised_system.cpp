#include "supervised_system.h"

#include <gtest/gtest.h>

#include "mp/bus/endpoints.h"

namespace mp::test {

using namespace std::chrono_literals;
using mp::schema::Envelope;

SupervisedSystem::SupervisedSystem(const std::string& services)
    : runtime_dir_(dir_.path() / "run") {
  std::filesystem::create_directories(dir_.path() / "state");
  supervisor_ = std::make_unique<ChildProcess>(
      bin_dir() / "mp-supervisor",
      std::vector<std::string>{"--runtime-dir", runtime_dir_.string(), "--state-dir",
                               (dir_.path() / "state").string(), "--services", services,
                               "--log-level", "info"},
      ChildProcess::Options{.output_file = dir_.path() / "system.log"});
  EXPECT_TRUE(eventually([&] { return std::filesystem::exists(runtime_dir_ / "requests"); }, 10s))
      << log();
  client_ = std::make_unique<mp::bus::Client>(context_, reactor_,
                                              mp::bus::Endpoints::in_directory(runtime_dir_),
                                              mp::bus::ClientOptions{.service = "itest"});
}

SupervisedSystem::~SupervisedSystem() {
  client_.reset();
  int code = supervisor_->stop(10s);
  EXPECT_EQ(code, 0) << "the supervisor did not stop cleanly\n" << log();
}

std::string SupervisedSystem::log() const { return read_file(dir_.path() / "system.log"); }

void SupervisedSystem::pause(std::chrono::milliseconds time) {
  reactor_.run_until([] { return false; }, time);
}

bool SupervisedSystem::wait_until(const std::function<bool()>& condition,
                                  std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    pause(50ms);
  }
  return condition();
}

std::map<std::string, ServiceInfo> SupervisedSystem::services() {
  std::map<std::string, ServiceInfo> out;
  auto reply = client_->call(
      "supervisor", [](Envelope::Builder e) { e.initStatusRequest(); },
      mp::bus::RequestOptions{.deadline = 1s});
  if (!reply.ok() || !reply.envelope().isStatusReport()) return out;
  for (auto s : reply.envelope().getStatusReport().getServices()) {
    out[s.getName()] = ServiceInfo{static_cast<pid_t>(s.getPid()), s.getIncarnation(),
                                   s.getRestarts(), s.getState()};
  }
  return out;
}

std::map<std::string, std::uint64_t> SupervisedSystem::registered() {
  std::map<std::string, std::uint64_t> out;
  auto reply = client_->call(
      "bus", [](Envelope::Builder e) { e.initBusStatusRequest(); },
      mp::bus::RequestOptions{.deadline = 300ms});
  if (!reply.ok()) return out;
  for (auto s : reply.envelope().getBusStatus().getServices()) {
    out[s.getName()] = s.getIncarnation();
  }
  return out;
}

}  // namespace mp::test
