// mp-policy stores list entries and mp-webfilter matches request hosts against them: for every
// spelling, both must come to the same string, or a block list entry never matches (issue 13:
// "3232235777" was a name to mp-policy and 192.168.1.1 to mp-webfilter).
#include <gtest/gtest.h>

#include "domain_name.h"
#include "host_rules.h"

namespace {

TEST(ServicesAgree, PolicyEntriesMatchTheHostsTheWebfilterSees) {
  struct Case {
    const char* entry;     // as an administrator types it into a block list
    const char* request;   // as a browser sends the host
    const char* expected;  // what both store and compare
  };
  for (const Case& c : std::initializer_list<Case>{
           {"3232235777", "192.168.1.1", "192.168.1.1"},
           {"192.168.1.1", "0xc0a80101", "192.168.1.1"},
           {"0300.0250.1.1", "3232235777", "192.168.1.1"},
           {"192.168.1.1.", "192.168.257", "192.168.1.1"},
           {"::ffff:192.168.1.1", "192.168.1.1", "192.168.1.1"},
           {"[2001:DB8:0::1]", "[2001:db8::1]", "2001:db8::1"},
           {"Bücher.Example.", "xn--bcher-kva.example", "xn--bcher-kva.example"},
           {"EXAMPLE.com", "example.COM.", "example.com"},
       }) {
    auto stored = mp::policy::normalise_domain(c.entry, true);
    ASSERT_TRUE(stored.ok()) << c.entry << ": " << stored.error;
    EXPECT_EQ(stored.domain, c.expected) << c.entry;
    // mp-webfilter compiles what mp-policy stored and judges the request's host with it.
    mp::webfilter::WebRules rules(mp::webfilter::WebMode::block_only, {stored.domain}, "all");
    auto host = mp::webfilter::normalize_host(c.request);
    ASSERT_TRUE(host) << c.request;
    EXPECT_EQ(host->text, c.expected) << c.request;
    EXPECT_FALSE(rules.decide(*host).allowed) << c.entry << " did not block " << c.request;
  }
}

TEST(ServicesAgree, PolicyKeepsItsReasonsForRefusedEntries) {
  EXPECT_EQ(mp::policy::normalise_domain("3232235777", false).error,
            "IP addresses are only allowed in block lists");
  EXPECT_EQ(mp::policy::normalise_domain("*.3232235777", true).error,
            "an IP address cannot take a wildcard");
  EXPECT_NE(mp::policy::normalise_domain("example.123", true).error.find("IPv4"),
            std::string::npos);
  EXPECT_EQ(mp::policy::normalise_domain("a..b", true).error, "empty label");
}

}  // namespace
