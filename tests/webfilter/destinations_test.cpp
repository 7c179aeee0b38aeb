// Where a judged host is connected to: the name's addresses, the original destination only if
// it is one of them.
#include "destinations.h"

#include <gtest/gtest.h>

#include "socket_address.h"

namespace mp::webfilter {
namespace {

sockaddr_storage at(const std::string& text, std::uint16_t port = 0) {
  sockaddr_storage a;
  EXPECT_TRUE(parse_numeric_address(text, port, a));
  return a;
}

std::vector<std::string> texts(const std::vector<sockaddr_storage>& addresses) {
  std::vector<std::string> out;
  for (const auto& a : addresses) out.push_back(to_string(a));
  return out;
}

using Texts = std::vector<std::string>;

TEST(Destinations, TheNamesAddressesWithThePort) {
  auto out = destinations_for({at("192.0.2.1"), at("2001:db8::1")}, 443, nullptr);
  EXPECT_EQ(texts(out), (Texts{"192.0.2.1:443", "[2001:db8::1]:443"}));
}

TEST(Destinations, TheOriginalDestinationFirstWhenTheNameHasIt) {
  auto original = at("192.0.2.3", 80);
  auto out = destinations_for({at("192.0.2.1"), at("192.0.2.2"), at("192.0.2.3")}, 80, &original);
  EXPECT_EQ(texts(out), (Texts{"192.0.2.3:80", "192.0.2.1:80", "192.0.2.2:80"}));
}

TEST(Destinations, AForeignOriginalDestinationIsNeverUsed) {
  // The client claimed allowed.test lives at 198.51.100.9: it does not.
  auto original = at("198.51.100.9", 443);
  auto out = destinations_for({at("192.0.2.1"), at("2001:db8::1")}, 443, &original);
  EXPECT_EQ(texts(out), (Texts{"192.0.2.1:443", "[2001:db8::1]:443"}));
  EXPECT_TRUE(destinations_for({}, 443, &original).empty());
}

}  // namespace
}  // namespace mp::webfilter
