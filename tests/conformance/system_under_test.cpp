#include "system_under_test.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "mp/bus/endpoints.h"
#include "mp/service/privileges.h"

namespace mp::test {

using mp::schema::Envelope;

SystemUnderTest::SystemUnderTest()
    : runtime_dir_(dir_.path() / "run"), state_dir_(dir_.path() / "state") {
  std::filesystem::create_directories(state_dir_);
  if (geteuid() == 0) {
    // As root mp-rdp runs as its own system user `mp-rdp`, which must pass through here to the
    // bus and its state; and the user (with group mpoint) must exist before mp-bus starts, which
    // opens the bus to the group only if there is one — as mp-supervisor arranges it.
    std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
    if (auto account = mp::service::ensure_system_user("mp-rdp"); !account.ok()) {
      std::fprintf(stderr, "cannot make the system user mp-rdp: %s\n", account.error.c_str());
    }
  }
  start("bus");
  eventually([&] { return std::filesystem::exists(runtime_dir_ / "requests"); },
             std::chrono::seconds(5));
  client_ = std::make_unique<mp::bus::Client>(context_, reactor_,
                                              mp::bus::Endpoints::in_directory(runtime_dir_),
                                              mp::bus::ClientOptions{.service = "conformance"});
}

SystemUnderTest::~SystemUnderTest() {
  client_.reset();
  // Stop in reverse order of importance: transports and session before the bus.
  for (auto it = children_.begin(); it != children_.end(); ++it) {
    if (it->first != "bus") it->second->stop(std::chrono::seconds(3));
  }
  if (children_.count("bus")) children_["bus"]->stop(std::chrono::seconds(3));
}

std::map<std::string, std::string> SystemUnderTest::service_env() const {
  return {{"MP_RUNTIME_DIR", runtime_dir_.string()}, {"MP_STATE_DIR", state_dir_.string()}};
}

void SystemUnderTest::start(const std::string& name) {
  children_.erase(name);
  children_[name] = std::make_unique<ChildProcess>(
      bin_dir() / ("mp-" + name),
      std::vector<std::string>{"--log-level", std::getenv("MP_TEST_LOG_LEVEL")
                                                  ? std::getenv("MP_TEST_LOG_LEVEL")
                                                  : "warn"},
      ChildProcess::Options{.env = service_env(), .output_file = dir_.path() / (name + ".log")});
}

void SystemUnderTest::kill9(const std::string& name) {
  auto it = children_.find(name);
  if (it == children_.end()) return;
  it->second->signal(SIGKILL);
  it->second->wait(std::chrono::seconds(5));
}

bool SystemUnderTest::running(const std::string& name) {
  auto it = children_.find(name);
  return it != children_.end() && it->second->running();
}

bool SystemUnderTest::wait_for(const std::function<bool()>& condition,
                               std::chrono::milliseconds timeout) {
  return reactor_.run_until(condition, timeout);
}

std::uint64_t SystemUnderTest::registered_incarnation(const std::string& service) {
  auto status = client_->call(
      "bus", [](Envelope::Builder e) { e.initBusStatusRequest(); },
      mp::bus::RequestOptions{.deadline = std::chrono::milliseconds(500)});
  if (!status.ok()) return 0;
  for (auto entry : status.envelope().getBusStatus().getServices()) {
    if (entry.getName() == service) return entry.getIncarnation();
  }
  return 0;
}

bool SystemUnderTest::wait_registered(const std::string& service, std::chrono::milliseconds timeout,
                                      std::uint64_t not_this) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto incarnation = registered_incarnation(service);
    if (incarnation != 0 && incarnation != not_this) return true;
    reactor_.run_until([] { return false; }, std::chrono::milliseconds(50));
  }
  return false;
}

std::map<std::string, StationView> SystemUnderTest::stations() {
  std::map<std::string, StationView> out;
  auto reply = client_->call(
      "session", [](Envelope::Builder e) { e.initStationListRequest(); },
      mp::bus::RequestOptions{.deadline = std::chrono::seconds(1)});
  if (!reply.ok() || !reply.envelope().isStationList()) return out;
  for (auto s : reply.envelope().getStationList().getStations()) {
    out[s.getKey()] = StationView{s.getTransport(), s.getState(), s.getSessionId()};
  }
  return out;
}

}  // namespace mp::test
