#include "mp/bus/testing.h"

#include <atomic>
#include <chrono>

namespace mp::bus {

namespace {
std::atomic<int> next_bus_id{0};
}

InProcessBus::InProcessBus(BrokerOptions options)
    : endpoints_(Endpoints::in_process("test-bus-" + std::to_string(next_bus_id++))) {
  thread_ = std::thread([this, options] {
    Reactor reactor;
    Broker broker(context_, reactor, endpoints_, options);
    ready_ = true;
    reactor.run_until([this] { return stop_.load(); }, std::chrono::hours(24));
    last_counters_ = broker.counters();
  });
  while (!ready_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

InProcessBus::~InProcessBus() {
  stop_ = true;
  thread_.join();
}

BrokerCounters InProcessBus::counters() const { return last_counters_; }

}  // namespace mp::bus
