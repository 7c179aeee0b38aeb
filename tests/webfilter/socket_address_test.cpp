// Socket addresses: parsed, compared, classified and printed the way the proxy relies on.
#include "socket_address.h"

#include <gtest/gtest.h>
#include <netinet/in.h>

namespace mp::webfilter {
namespace {

sockaddr_storage at(const std::string& text, std::uint16_t port = 0) {
  sockaddr_storage a;
  EXPECT_TRUE(parse_numeric_address(text, port, a)) << text;
  return a;
}

TEST(SocketAddress, ParsesNumericAddressesOnly) {
  sockaddr_storage a;
  EXPECT_TRUE(parse_numeric_address("192.0.2.1", 80, a));
  EXPECT_EQ(a.ss_family, AF_INET);
  EXPECT_EQ(port_of(a), 80);
  EXPECT_TRUE(parse_numeric_address("2001:db8::1", 443, a));
  EXPECT_EQ(a.ss_family, AF_INET6);
  EXPECT_EQ(length_of(a), sizeof(sockaddr_in6));
  for (const char* bad : {"", "example.com", "[::1]", "192.0.2", "3232235777", "fe80::1%lo"}) {
    EXPECT_FALSE(parse_numeric_address(bad, 1, a)) << bad;
  }
}

TEST(SocketAddress, ComparesWithAndWithoutPorts) {
  EXPECT_TRUE(same_address(at("192.0.2.1", 80), at("192.0.2.1", 80)));
  EXPECT_FALSE(same_address(at("192.0.2.1", 80), at("192.0.2.1", 81)));
  EXPECT_TRUE(same_ip(at("192.0.2.1", 80), at("192.0.2.1", 81)));
  EXPECT_FALSE(same_ip(at("192.0.2.1"), at("192.0.2.2")));
  EXPECT_FALSE(same_ip(at("::ffff:192.0.2.1"), at("192.0.2.1")));  // different families
  EXPECT_TRUE(same_ip(at("2001:db8::1", 1), at("2001:DB8:0::1", 2)));
  auto a = at("192.0.2.1", 80);
  set_port(a, 8080);
  EXPECT_EQ(port_of(a), 8080);
}

TEST(SocketAddress, KnowsLoopbackAndUnspecifiedInEveryFamily) {
  for (const char* loop : {"127.0.0.1", "127.255.0.9", "::1", "::ffff:127.0.0.2"}) {
    EXPECT_TRUE(is_loopback(at(loop))) << loop;
  }
  for (const char* other : {"128.0.0.1", "::2", "::ffff:10.0.0.1", "0.0.0.0"}) {
    EXPECT_FALSE(is_loopback(at(other))) << other;
  }
  for (const char* any : {"0.0.0.0", "::", "::ffff:0.0.0.0"}) {
    EXPECT_TRUE(is_unspecified(at(any))) << any;
  }
  EXPECT_FALSE(is_unspecified(at("0.0.0.1")));
}

TEST(SocketAddress, PrintsAddressesAsHostsAndWithPorts) {
  Host host;
  address_host(at("2001:DB8::1"), host);
  EXPECT_EQ(host.text, "2001:db8::1");
  EXPECT_EQ(host.kind, HostKind::ipv6);
  address_host(at("192.0.2.7"), host);
  EXPECT_EQ(host.text, "192.0.2.7");
  EXPECT_EQ(host.kind, HostKind::ipv4);
  EXPECT_EQ(to_string(at("192.0.2.7", 3129)), "192.0.2.7:3129");
  EXPECT_EQ(to_string(at("::1", 3129)), "[::1]:3129");
  EXPECT_EQ(to_string(sockaddr_storage{}), "?");
}

}  // namespace
}  // namespace mp::webfilter
