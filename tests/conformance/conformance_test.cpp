// The transport conformance suite: every transport must pass it. A new transport adds its
// driver to kDrivers below.
#include <gtest/gtest.h>

#include <ostream>

#include <functional>

#include "transport_driver.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using mp::schema::StationState;

struct DriverFactory {
  std::string name;
  std::function<std::unique_ptr<TransportDriver>()> make;
};
// So that test listings name the transport instead of dumping the struct's bytes.
void PrintTo(const DriverFactory& factory, std::ostream* out) { *out << factory.name; }

const DriverFactory kDrivers[] = {
    {"fake", make_fake_transport_driver},
    {"rdp", make_rdp_transport_driver},
};

class TransportConformance : public ::testing::TestWithParam<DriverFactory> {
 protected:
  void SetUp() override {
    system = std::make_unique<SystemUnderTest>();
    system->start("session");
    ASSERT_TRUE(system->wait_registered("session", 5s)) << "mp-session did not register";
    driver = GetParam().make();
    driver->start(*system);
  }

  bool all_in_state(const std::vector<std::string>& keys, StationState state) {
    auto stations = system->stations();
    for (const auto& key : keys) {
      auto it = stations.find(key);
      if (it == stations.end() || it->second.state != state) return false;
      if (it->second.transport != driver->service_name()) return false;
    }
    return true;
  }

  bool eventually_in_state(const std::vector<std::string>& keys, StationState state,
                           std::chrono::milliseconds timeout = 5s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (all_in_state(keys, state)) return true;
      driver->keep_trying(*system);
      system->wait_for([] { return false; }, 50ms);
    }
    return false;
  }

  std::unique_ptr<SystemUnderTest> system;
  std::unique_ptr<TransportDriver> driver;
};

TEST_P(TransportConformance, AttachedStationsAppearInSession) {
  auto keys = driver->attach(*system, 3);
  EXPECT_TRUE(eventually_in_state(keys, StationState::ATTACHED));
}

TEST_P(TransportConformance, DetachedStationIsKeptAsDetached) {
  auto keys = driver->attach(*system, 2);
  ASSERT_TRUE(eventually_in_state(keys, StationState::ATTACHED));
  driver->detach(*system, keys[0]);
  EXPECT_TRUE(eventually_in_state({keys[0]}, StationState::DETACHED));
  EXPECT_TRUE(all_in_state({keys[1]}, StationState::ATTACHED));
}

TEST_P(TransportConformance, StationsReconnectAfterTheTransportRestarts) {
  auto keys = driver->attach(*system, 3);
  ASSERT_TRUE(eventually_in_state(keys, StationState::ATTACHED));
  driver->kill9(*system);
  driver->start(*system);
  EXPECT_TRUE(eventually_in_state(keys, StationState::ATTACHED));
  auto more = driver->attach(*system, 1);
  EXPECT_TRUE(eventually_in_state(more, StationState::ATTACHED));
}

TEST_P(TransportConformance, TransportSurvivesSessionRestart) {
  auto before = driver->attach(*system, 2);
  ASSERT_TRUE(eventually_in_state(before, StationState::ATTACHED));
  auto old_session = system->registered_incarnation("session");
  system->kill9("session");
  // Stations come and go while mp-session is away...
  auto during = driver->attach(*system, 2);
  driver->detach(*system, before[0]);
  system->start("session");
  ASSERT_TRUE(system->wait_registered("session", 5s, old_session));
  // ...and once it is back, it converges on what the transport has.
  EXPECT_TRUE(eventually_in_state(during, StationState::ATTACHED, 8s));
  EXPECT_TRUE(eventually_in_state({before[1]}, StationState::ATTACHED));
  EXPECT_TRUE(eventually_in_state({before[0]}, StationState::DETACHED));
}

INSTANTIATE_TEST_SUITE_P(Transports, TransportConformance, ::testing::ValuesIn(kDrivers),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace mp::test
