#include <gtest/gtest.h>

#include "transport_driver.h"

namespace mp::test {

using mp::schema::Envelope;

namespace {

class FakeTransportDriver : public TransportDriver {
 public:
  std::string service_name() const override { return "fake-transport"; }

  void start(SystemUnderTest& system) override {
    auto previous = system.registered_incarnation("fake-transport");
    system.start("fake-transport");
    ASSERT_TRUE(system.wait_registered("fake-transport", std::chrono::seconds(5), previous));
  }

  void kill9(SystemUnderTest& system) override { system.kill9("fake-transport"); }

  std::vector<std::string> attach(SystemUnderTest& system, int count) override {
    std::vector<std::string> keys;
    for (int i = 0; i < count; ++i) keys.push_back("fake:station-" + std::to_string(next_++));
    auto reply = system.client().call(
        "fake-transport",
        [&](Envelope::Builder e) {
          auto list = e.initSimulateStations().initAttach(keys.size());
          for (std::size_t i = 0; i < keys.size(); ++i) {
            list[i].setKey(keys[i]);
            list[i].setClientName("client-" + keys[i].substr(5));
            list[i].setAddress("127.0.0.1");
          }
        },
        mp::bus::RequestOptions{.deadline = std::chrono::seconds(5)});
    EXPECT_TRUE(reply.ok()) << reply.error_text();
    return keys;
  }

  void detach(SystemUnderTest& system, const std::string& key) override {
    auto reply = system.client().call(
        "fake-transport",
        [&](Envelope::Builder e) { e.initSimulateStations().initDetach(1).set(0, key); },
        mp::bus::RequestOptions{.deadline = std::chrono::seconds(5)});
    EXPECT_TRUE(reply.ok()) << reply.error_text();
  }

 private:
  int next_ = 1;
};

}  // namespace

std::unique_ptr<TransportDriver> make_fake_transport_driver() {
  return std::make_unique<FakeTransportDriver>();
}

}  // namespace mp::test
