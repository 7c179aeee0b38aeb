// Listen flags: what parses, lists of them, and binding (real sockets on loopback).
#include "listen_address.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <system_error>

#include "socket_address.h"

namespace mp::webfilter {
namespace {

TEST(ListenAddress, ReadsIpv4AndBracketedIpv6) {
  sockaddr_storage a;
  ASSERT_TRUE(parse_listen_address("127.0.0.1:3128", a));
  EXPECT_EQ(to_string(a), "127.0.0.1:3128");
  ASSERT_TRUE(parse_listen_address("[::1]:3129", a));
  EXPECT_EQ(to_string(a), "[::1]:3129");
  ASSERT_TRUE(parse_listen_address("0.0.0.0:0", a));
  EXPECT_EQ(port_of(a), 0);
  for (const char* bad :
       {"", "3128", ":3128", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:31x8",
        "localhost:3128", "::1:3128", "[127.0.0.1]:3128", "[::1]", "127.0.0.1:1234567"}) {
    EXPECT_FALSE(parse_listen_address(bad, a)) << bad;
  }
}

TEST(ListenAddress, ListsComeRepeatedOrCommaSeparatedAndEmptyMeansNone) {
  using List = std::vector<std::string>;
  EXPECT_EQ(split_listen_list({"127.0.0.1:3129,[::1]:3129"}),
            (List{"127.0.0.1:3129", "[::1]:3129"}));
  EXPECT_EQ(split_listen_list({"127.0.0.1:3129", "[::1]:3129"}),
            (List{"127.0.0.1:3129", "[::1]:3129"}));
  EXPECT_EQ(split_listen_list({""}), List{});
  EXPECT_EQ(split_listen_list({",127.0.0.1:1,"}), List{"127.0.0.1:1"});
}

TEST(ListenAddress, BindsAndReportsThePortItGot) {
  sockaddr_storage bound;
  int fd = bind_listener("127.0.0.1:0", bound);
  ASSERT_GE(fd, 0);
  EXPECT_NE(port_of(bound), 0);
  // The same port again: taken.
  std::string again = "127.0.0.1:" + std::to_string(port_of(bound));
  sockaddr_storage second;
  EXPECT_THROW(bind_listener(again, second), std::system_error);
  close(fd);
  try {
    bind_listener("not an address", second);
    FAIL() << "accepted a bad address";
  } catch (const std::system_error& e) {
    EXPECT_EQ(e.code().value(), EINVAL);
  }
}

TEST(ListenAddress, Ipv6ListenersLeaveIpv4Alone) {
  sockaddr_storage v6;
  int fd6;
  try {
    fd6 = bind_listener("[::]:0", v6);
  } catch (const std::system_error& e) {
    GTEST_SKIP() << "no IPv6 here: " << e.what();
  }
  // The same port on IPv4 is still free: [::] did not take it (IPV6_V6ONLY).
  sockaddr_storage v4;
  int fd4 = bind_listener("0.0.0.0:" + std::to_string(port_of(v6)), v4);
  EXPECT_EQ(port_of(v4), port_of(v6));
  close(fd4);
  close(fd6);
}

}  // namespace
}  // namespace mp::webfilter
