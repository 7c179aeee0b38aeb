// Host normalisation and rule matching: the decisions every bypass attempt comes down to.
#include "host_rules.h"

#include <gtest/gtest.h>

namespace mp::webfilter {
namespace {

std::string norm(std::string_view raw) {
  auto host = normalize_host(raw);
  return host ? host->text : "<invalid>";
}

HostKind kind(std::string_view raw) { return normalize_host(raw).value().kind; }

DomainSet::Match match(const DomainSet& set, std::string_view raw) {
  return set.match(normalize_host(raw).value());
}

TEST(HostNormalize, LowercasesAndStripsOneTrailingDot) {
  EXPECT_EQ(norm("ExAmPle.COM"), "example.com");
  EXPECT_EQ(norm("example.com."), "example.com");
  EXPECT_EQ(norm("EXAMPLE.COM."), "example.com");
  EXPECT_EQ(norm("example.com.."), "<invalid>");
  EXPECT_EQ(norm("."), "<invalid>");
  EXPECT_EQ(norm(""), "<invalid>");
}

TEST(HostNormalize, TurnsULabelsIntoALabels) {
  EXPECT_EQ(norm("bücher.de"), "xn--bcher-kva.de");
  EXPECT_EQ(norm("BÜCHER.de"), "xn--bcher-kva.de");
  EXPECT_EQ(norm("xn--bcher-kva.de"), "xn--bcher-kva.de");
  EXPECT_EQ(norm("XN--BCHER-KVA.DE."), "xn--bcher-kva.de");
  // Full-width dots (U+3002) are dots after UTS#46 mapping.
  EXPECT_EQ(norm("bücher\xE3\x80\x82"
                 "de"),
            "xn--bcher-kva.de");
}

TEST(HostNormalize, RefusesCharactersNoHostHas) {
  for (std::string_view bad : {"exa mple.com", "example.com/", "ex%61mple.com", "a@b.com",
                               "exa\tmple.com", "a..b", ".example.com", "exam\x01ple.com"}) {
    EXPECT_EQ(norm(bad), "<invalid>") << bad;
  }
  EXPECT_EQ(norm(std::string(64, 'a') + ".com"), "<invalid>");  // label over 63
  EXPECT_EQ(norm(std::string(63, 'a') + ".com"), std::string(63, 'a') + ".com");
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";
  long_name += "com";
  EXPECT_EQ(norm(long_name), "<invalid>");  // over 253
}

TEST(HostNormalize, ReadsEveryIpv4FormBrowsersAccept) {
  EXPECT_EQ(norm("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(norm("2130706433"), "127.0.0.1");
  EXPECT_EQ(norm("0x7f000001"), "127.0.0.1");
  EXPECT_EQ(norm("0x7F.1"), "127.0.0.1");
  EXPECT_EQ(norm("0177.0.0.1"), "127.0.0.1");
  EXPECT_EQ(norm("127.1"), "127.0.0.1");
  EXPECT_EQ(norm("127.0.0.1."), "127.0.0.1");
  EXPECT_EQ(kind("2130706433"), HostKind::ipv4);
  EXPECT_EQ(norm("256.0.0.1"), "<invalid>");
  EXPECT_EQ(norm("1.2.3.4.5"), "<invalid>");
  EXPECT_EQ(norm("4294967296"), "<invalid>");
  EXPECT_EQ(norm("example.123"), "<invalid>");  // ends in a number: an address or nothing
  EXPECT_EQ(norm("123.example"), "123.example");
  EXPECT_EQ(kind("123.example"), HostKind::name);
}

TEST(HostNormalize, ReadsIpv6Literals) {
  EXPECT_EQ(norm("[::1]"), "::1");
  EXPECT_EQ(norm("[0:0:0:0:0:0:0:1]"), "::1");
  EXPECT_EQ(norm("[2001:DB8::1]"), "2001:db8::1");
  EXPECT_EQ(kind("[::1]"), HostKind::ipv6);
  EXPECT_EQ(norm("[::1"), "<invalid>");
  EXPECT_EQ(norm("[fe80::1%eth0]"), "<invalid>");
  EXPECT_EQ(norm("[example.com]"), "<invalid>");
}

TEST(Authority, SplitsHostAndPort) {
  auto a = split_authority("example.com:8080").value();
  EXPECT_EQ(a.host, "example.com");
  EXPECT_EQ(a.port, 8080);
  EXPECT_TRUE(a.has_port);
  a = split_authority("[::1]:443").value();
  EXPECT_EQ(a.host, "[::1]");
  EXPECT_EQ(a.port, 443);
  a = split_authority("example.com").value();
  EXPECT_FALSE(a.has_port);
  for (std::string_view bad : {"", ":80", "example.com:", "example.com:0", "example.com:65536",
                               "example.com:8o", "[::1", "[::1]x", "a:1:2"}) {
    EXPECT_FALSE(split_authority(bad)) << bad;
  }
}

TEST(Rules, ParseBothForms) {
  auto rule = parse_rule("*.Example.COM.").value();
  EXPECT_EQ(rule.domain, "example.com");
  EXPECT_TRUE(rule.wildcard);
  EXPECT_EQ(rule.text(), "*.example.com");
  rule = parse_rule(" bücher.de ").value();
  EXPECT_EQ(rule.text(), "xn--bcher-kva.de");
  EXPECT_FALSE(parse_rule("*"));
  EXPECT_FALSE(parse_rule("*."));
  EXPECT_FALSE(parse_rule("a.*.com"));
  EXPECT_TRUE(parse_rule("127.0.0.1").value().address);
  EXPECT_EQ(parse_rule("[2001:DB8::1]").value().domain, "2001:db8::1");
  EXPECT_FALSE(parse_rule("*.127.0.0.1"));
  EXPECT_FALSE(parse_rule("http://example.com"));
}

TEST(Rules, MatchWholeLabelsNeverSubstrings) {
  DomainSet set;
  set.add(*parse_rule("example.com"));
  set.add(*parse_rule("*.wild.org"));
  EXPECT_EQ(match(set, "example.com").rule_text(), "example.com");
  EXPECT_EQ(match(set, "www.example.com").rule_text(), "example.com");
  EXPECT_EQ(match(set, "a.b.c.example.com").rule_text(), "example.com");
  EXPECT_FALSE(match(set, "notexample.com"));
  EXPECT_FALSE(match(set, "example.com.evil.net"));
  EXPECT_FALSE(match(set, "example.co"));
  EXPECT_FALSE(match(set, "com"));
  EXPECT_EQ(match(set, "www.wild.org").rule_text(), "*.wild.org");
  EXPECT_EQ(match(set, "wild.org").rule_text(), "*.wild.org");  // the name itself too
  EXPECT_FALSE(match(set, "wild.org.evil.net"));
  EXPECT_FALSE(match(set, "notwild.org"));
}

TEST(Rules, TheMostSpecificRuleIsNamed) {
  DomainSet set;
  set.add(*parse_rule("example.com"));
  set.add(*parse_rule("*.mail.example.com"));
  EXPECT_EQ(match(set, "in.mail.example.com").rule_text(), "*.mail.example.com");
}

TEST(WebRulesDecide, BlockOnlyRefusesListedAndAllowsTheRest) {
  WebRules rules(WebMode::block_only, {"example.com", "*.games.test", "bücher.de"}, "group:lab-a");
  auto decide = [&](std::string_view raw) { return rules.decide(*normalize_host(raw)); };
  EXPECT_FALSE(decide("EXAMPLE.com.").allowed);
  EXPECT_FALSE(decide("www.example.com").allowed);
  EXPECT_FALSE(decide("xn--bcher-kva.de").allowed);
  EXPECT_FALSE(decide("BÜCHER.de").allowed);
  EXPECT_FALSE(decide("play.games.test").allowed);
  EXPECT_FALSE(decide("games.test").allowed);
  EXPECT_TRUE(decide("minigames.test").allowed);
  EXPECT_TRUE(decide("example.org").allowed);
  EXPECT_TRUE(decide("127.0.0.1").allowed);  // IP literals: the mode's default
  EXPECT_EQ(decide("127.0.0.1").reason, Reason::ip_allowed);
  Verdict v = decide("www.example.com");
  EXPECT_EQ(rules.describe(v), "blocked by the block list of group lab-a: example.com");
}

TEST(WebRulesDecide, ListedAddressesAreBlockedInEverySpelling) {
  WebRules rules(WebMode::block_only, {"192.0.2.7", "[2001:db8::1]"}, "all");
  auto decide = [&](std::string_view raw) { return rules.decide(*normalize_host(raw)); };
  EXPECT_FALSE(decide("192.0.2.7").allowed);
  EXPECT_FALSE(decide("3221225991").allowed);
  EXPECT_FALSE(decide("0xc0.0x0.0x2.0x7").allowed);
  EXPECT_FALSE(decide("[2001:DB8:0::1]").allowed);
  EXPECT_TRUE(decide("192.0.2.8").allowed);
  EXPECT_TRUE(decide("192.0.2.7.example").allowed);  // a name, not the address
}

TEST(WebRulesDecide, AllowOnlyAllowsListedAndRefusesTheRestAndIps) {
  WebRules rules(WebMode::allow_only, {"school.test", "*.wiki.test"}, "station:rdp:lab-1");
  auto decide = [&](std::string_view raw) { return rules.decide(*normalize_host(raw)); };
  EXPECT_TRUE(decide("school.test").allowed);
  EXPECT_TRUE(decide("WWW.School.Test.").allowed);
  EXPECT_TRUE(decide("en.wiki.test").allowed);
  EXPECT_TRUE(decide("wiki.test").allowed);
  EXPECT_FALSE(decide("notwiki.test").allowed);
  EXPECT_FALSE(decide("evilschool.test").allowed);
  EXPECT_FALSE(decide("school.test.evil.net").allowed);
  EXPECT_FALSE(decide("2130706433").allowed);
  EXPECT_FALSE(decide("[::1]").allowed);
  EXPECT_EQ(decide("[::1]").reason, Reason::ip_refused);
  EXPECT_EQ(rules.describe(decide("other.test")),
            "blocked: not on the allow list of station rdp:lab-1");
}

TEST(WebRulesDecide, DohCanaryIsRefusedInEveryMode) {
  for (WebMode mode : {WebMode::off, WebMode::block_only, WebMode::allow_only}) {
    WebRules rules(mode, {"use-application-dns.net"}, "all");
    EXPECT_FALSE(rules.decide(*normalize_host("use-application-dns.net")).allowed);
    EXPECT_FALSE(rules.decide(*normalize_host("USE-APPLICATION-DNS.NET.")).allowed);
    EXPECT_EQ(rules.decide(*normalize_host("use-application-dns.net")).reason, Reason::doh_canary);
  }
  WebRules off(WebMode::off, {}, "all");
  EXPECT_TRUE(off.decide(*normalize_host("example.com")).allowed);
  EXPECT_TRUE(off.decide(*normalize_host("not-use-application-dns.net")).allowed);
}

TEST(WebRulesDecide, InvalidEntriesAreSetAsideNotFatal) {
  WebRules rules(WebMode::block_only, {"good.test", "bad domain", "*"}, "all");
  EXPECT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules.rejected().size(), 2u);
}

}  // namespace
}  // namespace mp::webfilter
