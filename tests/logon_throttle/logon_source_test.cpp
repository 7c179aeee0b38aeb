// How addresses become throttle sources.
#include <gtest/gtest.h>

#include "mp/service/logon_throttle.h"

namespace mp::service {
namespace {

TEST(LogonSource, EveryLoopbackAddressIsLocal) {
  for (const char* address :
       {"127.0.0.1", "127.0.0.2", "127.0.0.50", "127.255.255.254", "::1", "[::1]",
        "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:127.9.8.7", "[::ffff:127.0.0.2]"}) {
    EXPECT_EQ(logon_source(address), "local") << address;
  }
}

TEST(LogonSource, IPv4StaysAsItIs) {
  EXPECT_EQ(logon_source("192.168.1.20"), "192.168.1.20");
  EXPECT_EQ(logon_source("::ffff:192.168.1.20"), "192.168.1.20") << "mapped: the same host";
}

TEST(LogonSource, IPv6CountsByItsSlash64) {
  EXPECT_EQ(logon_source("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  EXPECT_EQ(logon_source("2001:DB8:1:2::99"), "2001:db8:1:2::/64");
  EXPECT_EQ(logon_source("fe80::1%eth0"), "fe80::/64") << "the zone is ignored";
  EXPECT_EQ(logon_source("[2001:db8::1]"), "2001:db8::/64");
}

TEST(LogonSource, WhatIsNoAddressIsKeptApartAndBounded) {
  EXPECT_EQ(logon_source(""), "unknown");
  EXPECT_EQ(logon_source("lab-3.example"), "other:lab-3.example");
  EXPECT_EQ(logon_source(std::string(1000, 'x')).size(), std::string("other:").size() + 64);
  EXPECT_EQ(logon_source("127.0.0.1.evil"), "other:127.0.0.1.evil") << "not a loopback address";
}

}  // namespace
}  // namespace mp::service
