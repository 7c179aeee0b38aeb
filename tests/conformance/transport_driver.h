// How the conformance suite makes a transport attach and detach stations. Each transport
// provides one: the fake one asks over the bus; the RDP one will start real xfreerdp clients.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "system_under_test.h"

namespace mp::test {

class TransportDriver {
 public:
  virtual ~TransportDriver() = default;
  virtual std::string service_name() const = 0;  // its bus name, and Station.transport
  virtual void start(SystemUnderTest& system) = 0;
  virtual void kill9(SystemUnderTest& system) = 0;
  // Makes stations attach; returns their keys.
  virtual std::vector<std::string> attach(SystemUnderTest& system, int count) = 0;
  virtual void detach(SystemUnderTest& system, const std::string& key) = 0;
  // What the people at the stations do while the suite waits: e.g. an RDP user whose logon
  // failed (mp-session was away, so there was no desktop to give) connects again.
  virtual void keep_trying(SystemUnderTest&) {}
};

std::unique_ptr<TransportDriver> make_fake_transport_driver();
std::unique_ptr<TransportDriver> make_rdp_transport_driver();

}  // namespace mp::test
