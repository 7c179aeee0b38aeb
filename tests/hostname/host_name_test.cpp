// The one host normaliser: every spelling of a host becomes one string, and what is not a host
// is refused with a reason a person can act on.
#include "mp/hostname/host_name.h"

#include <gtest/gtest.h>

namespace mp::hostname {
namespace {

std::string norm(std::string_view raw) {
  auto host = normalize_host(raw);
  return host ? host->text : "<invalid>";
}

HostKind kind(std::string_view raw) { return normalize_host(raw).value().kind; }

std::string why(std::string_view raw) {
  Host host;
  std::string reason;
  EXPECT_FALSE(normalize_host(raw, host, &reason)) << raw << " accepted as " << host.text;
  return reason;
}

TEST(HostName, LowercasesAndStripsOneTrailingDot) {
  EXPECT_EQ(norm("ExAmPle.COM"), "example.com");
  EXPECT_EQ(norm("example.com."), "example.com");
  EXPECT_EQ(norm("_dmarc.Example.com"), "_dmarc.example.com");
  EXPECT_EQ(norm("localhost"), "localhost");
  EXPECT_EQ(kind("example.com"), HostKind::name);
  EXPECT_EQ(why("example.com.."), "empty label");
  EXPECT_EQ(why("."), "empty name");
  EXPECT_EQ(why(""), "empty name");
}

TEST(HostName, TurnsULabelsIntoALabelsAndChecksALabels) {
  EXPECT_EQ(norm("bücher.de"), "xn--bcher-kva.de");
  EXPECT_EQ(norm("BÜCHER.de"), "xn--bcher-kva.de");
  EXPECT_EQ(norm("XN--BCHER-KVA.DE."), "xn--bcher-kva.de");
  EXPECT_EQ(norm("bücher\xE3\x80\x82"
                 "de"),
            "xn--bcher-kva.de");  // a full-width dot is a dot after UTS#46 mapping
  EXPECT_NE(why("xn--zz.example").find("bad IDNA label 'xn--zz'"), std::string::npos);
  EXPECT_NE(why("\xff\xfe.example").find("not a valid IDN"), std::string::npos);
}

TEST(HostName, RefusesWhatNoHostHasWithAReason) {
  EXPECT_EQ(why("exa mple.com"), "spaces and control characters not allowed");
  EXPECT_EQ(why("exam\x01ple.com"), "spaces and control characters not allowed");
  EXPECT_EQ(why("example.com/"), "character '/' not allowed in a name");
  EXPECT_EQ(why("a@b.com"), "character '@' not allowed in a name");
  EXPECT_EQ(why("ex%61mple.com"), "character '%' not allowed in a name");
  EXPECT_EQ(why("a..b"), "empty label");
  EXPECT_EQ(why(".example.com"), "empty label");
  EXPECT_EQ(why(std::string(64, 'a') + ".com"), "label longer than 63 bytes");
  EXPECT_EQ(norm(std::string(63, 'a') + ".com"), std::string(63, 'a') + ".com");
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  EXPECT_EQ(why(long_name + "com"), "longer than 253 bytes");
  EXPECT_EQ(why(std::string(1025, 'a')), "longer than 1024 bytes");
}

TEST(HostName, ReadsEveryIpv4FormBrowsersAccept) {
  for (std::string_view same :
       {"192.168.1.1", "3232235777", "0xc0a80101", "0xC0.0xA8.1.1", "0300.0250.0001.0001",
        "192.168.257", "192.11010305", "192.168.1.1.", "[::ffff:192.168.1.1]", "::ffff:c0a8:101"}) {
    EXPECT_EQ(norm(same), "192.168.1.1") << same;
    EXPECT_EQ(kind(same), HostKind::ipv4) << same;
  }
  EXPECT_EQ(norm("127.1"), "127.0.0.1");
  EXPECT_EQ(norm("0x"), "0.0.0.0");
  for (std::string_view bad :
       {"256.0.0.1", "1.2.3.4.5", "4294967296", "example.123", "1..2", "08.1.1.1", "0xg.1"}) {
    EXPECT_NE(why(bad).find("not a valid IPv4 address"), std::string::npos) << bad;
  }
  EXPECT_EQ(norm("123.example"), "123.example");
  EXPECT_EQ(kind("123.example"), HostKind::name);
}

TEST(HostName, ReadsIpv6LiteralsInCanonicalForm) {
  EXPECT_EQ(norm("[::1]"), "::1");
  EXPECT_EQ(norm("0:0:0:0:0:0:0:1"), "::1");
  EXPECT_EQ(norm("[2001:DB8:0:0::1]"), "2001:db8::1");
  EXPECT_EQ(kind("[::1]"), HostKind::ipv6);
  for (std::string_view bad : {"[::1", "[fe80::1%eth0]", "[example.com]", "[]", "[192.0.2.1]",
                               "example.com:80", "1:2:3:4:5:6:7:8:9"}) {
    EXPECT_EQ(why(bad), "not a valid IPv6 address") << bad;
  }
}

TEST(HostName, ReusesTheOutputAndClearsItOnFailure) {
  Host host;
  ASSERT_TRUE(normalize_host("Example.COM", host));
  EXPECT_EQ(host.text, "example.com");
  ASSERT_TRUE(normalize_host("[::1]", host));
  EXPECT_EQ(host.kind, HostKind::ipv6);
  ASSERT_TRUE(normalize_host("www.example.com", host));
  EXPECT_EQ(host.kind, HostKind::name);
  EXPECT_FALSE(normalize_host("a..b", host));
  ASSERT_TRUE(normalize_host("3232235777", host));
  EXPECT_EQ(host.text, "192.168.1.1");
  EXPECT_EQ(host.kind, HostKind::ipv4);
}

}  // namespace
}  // namespace mp::hostname
