// A real broker on an in-process bus, and clients sharing one reactor on the test thread.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "mp/bus/client.h"
#include "mp/bus/testing.h"

namespace mp::bus {

class BusFixture : public ::testing::Test {
 protected:
  std::unique_ptr<Client> make_client(const std::string& service) {
    return std::make_unique<Client>(bus.context(), reactor, bus.endpoints(),
                                    ClientOptions{.service = service});
  }
  // serve() is asynchronous: wait until the broker has acknowledged the registration.
  void serve_and_wait(Client& client, Client::RequestHandler handler) {
    client.serve(std::move(handler));
    ASSERT_TRUE(reactor.run_until([&] { return client.counters().registrations > 0; },
                                  std::chrono::seconds(5)));
  }
  // Subscriptions travel to the broker asynchronously; give them a moment.
  void settle(std::chrono::milliseconds time = std::chrono::milliseconds(200)) {
    reactor.run_until([] { return false; }, time);
  }

  InProcessBus bus;
  Reactor reactor;
};

}  // namespace mp::bus
