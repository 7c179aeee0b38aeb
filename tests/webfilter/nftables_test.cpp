// The nftables table for station users: what the script says, and (as root) that nft takes it
// whole in a throwaway network namespace.
#include "nftables.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "socket_address.h"
#include "support/process.h"

namespace mp::webfilter {
namespace {

StationNetwork network() {
  StationNetwork n;
  n.redirect_port_v4 = 3129;
  n.redirect_port_v6 = 3129;
  for (const char* text : {"127.0.0.1", "::1"}) {
    sockaddr_storage a;
    EXPECT_TRUE(parse_numeric_address(text, 3129, a));
    n.proxy_listeners.push_back(a);
  }
  sockaddr_storage forward, everywhere;
  EXPECT_TRUE(parse_numeric_address("127.0.0.1", 3128, forward));
  n.proxy_listeners.push_back(forward);
  EXPECT_TRUE(parse_numeric_address("::", 3130, everywhere));  // a proxy on every address
  n.proxy_listeners.push_back(everywhere);
  n.resolvers = {"10.255.255.53", "2001:db8::53"};
  EXPECT_TRUE(add_allowed_port("tcp:22", n));
  EXPECT_TRUE(add_allowed_port("udp:123", n));
  n.proxy_uid = 998;
  return n;
}

bool has(const std::string& script, const std::string& line) {
  return script.find(line) != std::string::npos;
}

TEST(Nftables, StationUsersAreRedirectedOnBothFamiliesAndRefusedTheRest) {
  std::string s = nft_install_script(network(), {1001, 1002});
  EXPECT_TRUE(has(s, "elements = { 1001, 1002 }")) << s;
  EXPECT_TRUE(has(s,
                  "meta skuid @station_uids meta nfproto ipv4 tcp dport { 80, 443 } "
                  "redirect to :3129"));
  EXPECT_TRUE(has(s,
                  "meta skuid @station_uids meta nfproto ipv6 tcp dport { 80, 443 } "
                  "redirect to :3129"));
  EXPECT_TRUE(has(s, "ip daddr 127.0.0.1 tcp dport 3128 accept"));
  EXPECT_TRUE(has(s, "ip daddr 127.0.0.1 tcp dport 3129 accept"));
  EXPECT_TRUE(has(s, "ip6 daddr ::1 tcp dport 3129 accept"));
  EXPECT_TRUE(has(s, "meta nfproto ipv6 fib daddr type local tcp dport 3130 accept"));
  EXPECT_TRUE(has(s, "ip daddr { 10.255.255.53 } meta l4proto { tcp, udp } th dport 53 accept"));
  EXPECT_TRUE(has(s, "ip6 daddr { 2001:db8::53 } meta l4proto { tcp, udp } th dport 53 accept"));
  EXPECT_TRUE(has(s, "tcp dport { 22 } accept"));
  EXPECT_TRUE(has(s, "udp dport { 123 } accept"));
  // The last word for a station user's packet: refused, quickly.
  auto reset = s.find("meta l4proto tcp reject with tcp reset");
  auto icmp = s.find("reject with icmpx admin-prohibited");
  ASSERT_NE(reset, std::string::npos);
  ASSERT_NE(icmp, std::string::npos);
  EXPECT_LT(s.find("tcp dport { 22 } accept"), reset);
  EXPECT_LT(reset, icmp);
  // An old table (a kill -9) is replaced in the same transaction.
  EXPECT_TRUE(
      s.starts_with("add table inet multipoint_webfilter\n"
                    "delete table inet multipoint_webfilter\n"));
}

TEST(Nftables, RootAndTheProxyAreNeverInTheSet) {
  std::string s = nft_install_script(network(), {0, 998, 1001});
  EXPECT_TRUE(has(s, "elements = { 1001 }")) << s;
  s = nft_install_script(network(), {0});
  EXPECT_FALSE(has(s, "elements")) << s;
}

TEST(Nftables, AFamilyWithoutAListenerIsRejectedNotRedirected) {
  StationNetwork n = network();
  n.redirect_port_v6 = 0;
  std::string s = nft_install_script(n, {1001});
  EXPECT_FALSE(has(s, "nfproto ipv6 tcp dport { 80, 443 }"));
  EXPECT_TRUE(has(s, "nfproto ipv4 tcp dport { 80, 443 }"));
}

TEST(Nftables, AllowedPortsAreReadStrictly) {
  StationNetwork n;
  for (const char* good : {"tcp:1", "udp:65535", "tcp:8444"}) {
    EXPECT_TRUE(add_allowed_port(good, n)) << good;
  }
  for (const char* bad : {"", "tcp", "tcp:", "tcp:0", "tcp:65536", "sctp:22", "tcp:2 2", "TCP:22",
                          ":22", "tcp:-1", "tcp:123456"}) {
    EXPECT_FALSE(add_allowed_port(bad, n)) << bad;
  }
  EXPECT_EQ(n.allowed_tcp, (std::set<std::uint16_t>{1, 8444}));
  EXPECT_EQ(n.allowed_udp, (std::set<std::uint16_t>{65535}));
}

TEST(Nftables, TheNetworkComesFromTheFlags) {
  StationNetwork n;
  ASSERT_EQ(station_network_from("127.0.0.1:3128", {"127.0.0.1:3129", "[::1]:3139"}, {"tcp:22"},
                                 {"192.0.2.53", "2001:DB8::53"}, 998, n),
            "");
  EXPECT_EQ(n.redirect_port_v4, 3129);
  EXPECT_EQ(n.redirect_port_v6, 3139);
  EXPECT_EQ(n.proxy_listeners.size(), 3u);
  EXPECT_EQ(n.resolvers, (std::vector<std::string>{"192.0.2.53", "2001:db8::53"}));
  EXPECT_EQ(n.allowed_tcp, (std::set<std::uint16_t>{22}));
  EXPECT_EQ(n.proxy_uid, 998u);
  // Without an IPv6 listener, IPv6 web traffic is not redirected (and so refused).
  ASSERT_EQ(station_network_from("127.0.0.1:3128", {"127.0.0.1:3129"}, {}, {"192.0.2.53"}, 998, n),
            "");
  EXPECT_EQ(n.redirect_port_v6, 0);
  // What cannot work is said.
  EXPECT_NE(station_network_from("127.0.0.1:0", {}, {}, {}, 998, n).find("fixed ports"),
            std::string::npos);
  EXPECT_NE(station_network_from("127.0.0.1:3128", {"nowhere"}, {}, {}, 998, n).find("nowhere"),
            std::string::npos);
  EXPECT_NE(station_network_from("127.0.0.1:3128", {}, {"ssh"}, {}, 998, n).find("tcp:PORT"),
            std::string::npos);
  EXPECT_NE(
      station_network_from("127.0.0.1:3128", {}, {}, {"dns.example"}, 998, n).find("--station-dns"),
      std::string::npos);
}

TEST(Nftables, NftTakesTheTableAndItsRemoval) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root: a network namespace and nft";
  if (!std::filesystem::exists("/usr/sbin/nft")) GTEST_SKIP() << "nft is not installed";
  std::string ns = "mpwfnft" + std::to_string(getpid());
  ASSERT_EQ(mp::test::run("/usr/sbin/ip", {"netns", "add", ns}).exit_code, 0);
  struct Gone {
    std::string name;
    ~Gone() { mp::test::run("/usr/sbin/ip", {"netns", "del", name}); }
  } gone{ns};
  auto nft = [&](const std::string& script) {
    return mp::test::run("/usr/sbin/ip", {"netns", "exec", ns, "/usr/sbin/nft", "-f", "-"},
                         {.stdin_text = script});
  };
  auto listed = [&] {
    return mp::test::run("/usr/sbin/ip", {"netns", "exec", ns, "/usr/sbin/nft", "list", "ruleset"})
        .output;
  };
  auto applied = nft(nft_install_script(network(), {1001}));
  EXPECT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_NE(listed().find("elements = { 1001 }"), std::string::npos) << listed();
  // Replaced whole, also with an empty set.
  applied = nft(nft_install_script(network(), {}));
  EXPECT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_EQ(listed().find("1001"), std::string::npos) << listed();
  // run_nft is the same thing through a pipe.
  EXPECT_EQ(run_nft("/bin/false", "x").substr(0, 10), "nft failed");
  auto removed = nft(nft_remove_script());
  EXPECT_EQ(removed.exit_code, 0) << removed.output;
  EXPECT_EQ(listed().find("multipoint_webfilter"), std::string::npos);
}

}  // namespace
}  // namespace mp::webfilter
