// The web-list normaliser on its own: the rules mp-webfilter mirrors.
#include "domain_name.h"

#include <gtest/gtest.h>

namespace mp::policy {
namespace {

std::string normal(std::string_view input, bool allow_ip = true) {
  auto result = normalise_domain(input, allow_ip);
  EXPECT_TRUE(result.ok()) << "'" << input << "' refused: " << result.error;
  return result.domain;
}

std::string refused(std::string_view input, bool allow_ip = true) {
  auto result = normalise_domain(input, allow_ip);
  EXPECT_FALSE(result.ok()) << "'" << input << "' accepted as " << result.domain;
  return result.error;
}

TEST(DomainName, DomainsAreNormalised) {
  EXPECT_EQ(normal("Mixed.Case."), "mixed.case");
  EXPECT_EQ(normal("EXAMPLE.COM"), "example.com");
  EXPECT_EQ(normal("bücher.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normal("BÜCHER.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normal("*.Wild.Example."), "*.wild.example");
  EXPECT_EQ(normal("*.bücher.de"), "*.xn--bcher-kva.de");
  EXPECT_EQ(normal("xn--bcher-kva.example"), "xn--bcher-kva.example");
  EXPECT_EQ(normal("_dmarc.example.com"), "_dmarc.example.com");
  EXPECT_EQ(normal("localhost"), "localhost");
  EXPECT_EQ(normal(std::string(63, 'a') + ".com"), std::string(63, 'a') + ".com");
}

TEST(DomainName, IpLiteralsOnlyWhereAllowed) {
  EXPECT_EQ(normal("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(normal("2001:DB8:0:0::1"), "2001:db8::1");
  EXPECT_EQ(normal("[2001:db8::1]"), "2001:db8::1");
  EXPECT_NE(refused("192.0.2.1", false).find("only allowed in block lists"), std::string::npos);
  EXPECT_NE(refused("*.192.0.2.1").find("wildcard"), std::string::npos);
}

TEST(DomainName, BadNamesAreRefusedWithAReason) {
  EXPECT_EQ(refused(""), "empty name");
  EXPECT_EQ(refused("."), "empty name");
  EXPECT_EQ(refused("*."), "empty name");
  EXPECT_EQ(refused("a..b"), "empty label");
  EXPECT_EQ(refused(".example.com"), "empty label");
  EXPECT_EQ(refused("example.com.."), "empty label");
  EXPECT_NE(refused("exa mple.com").find("spaces"), std::string::npos);
  EXPECT_NE(refused(" example.com").find("spaces"), std::string::npos);
  EXPECT_NE(refused("example.com\n").find("control"), std::string::npos);
  EXPECT_EQ(refused(std::string(64, 'a') + ".com"), "label longer than 63 bytes");
  std::string long_name;
  while (long_name.size() < 254) long_name += "abcdefghi.";
  long_name += "com";
  EXPECT_EQ(refused(long_name), "longer than 253 bytes");
  EXPECT_NE(refused("*.*.example.com").find("'*'"), std::string::npos);
  EXPECT_NE(refused("ex*ample.com").find("'*'"), std::string::npos);
  EXPECT_NE(refused("example.com/path").find("not allowed"), std::string::npos);
  EXPECT_NE(refused("user@example.com").find("not allowed"), std::string::npos);
  EXPECT_NE(refused("xn--zz.example").find("IDNA"), std::string::npos);
  EXPECT_NE(refused("\xff\xfe.example").find("IDN"), std::string::npos);
}

}  // namespace
}  // namespace mp::policy
