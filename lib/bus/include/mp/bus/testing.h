// An in-process bus for unit tests: a real Broker on its own thread over inproc endpoints.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <zmq.hpp>

#include "mp/bus/broker.h"
#include "mp/bus/endpoints.h"

namespace mp::bus {

class InProcessBus {
 public:
  explicit InProcessBus(BrokerOptions options = {});
  ~InProcessBus();
  zmq::context_t& context() { return context_; }
  const Endpoints& endpoints() const { return endpoints_; }
  // Counters are read from the test thread after the broker thread stopped, or racily.
  BrokerCounters counters() const;

 private:
  zmq::context_t context_;
  Endpoints endpoints_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> stop_{false};
  BrokerCounters last_counters_;
  std::thread thread_;
};

}  // namespace mp::bus
