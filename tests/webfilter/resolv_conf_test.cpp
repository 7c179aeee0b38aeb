// The resolvers station users may ask: what resolv.conf lists, read the way glibc reads it.
#include "resolv_conf.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace mp::webfilter {
namespace {

using Addresses = std::vector<std::string>;

TEST(ResolvConf, ReadsNameserverLines) {
  EXPECT_EQ(nameservers_in("# comment\nsearch lab.example\nnameserver 10.255.255.53\n"
                           "nameserver  2001:DB8::53 \noptions edns0\n"),
            (Addresses{"10.255.255.53", "2001:db8::53"}));
  EXPECT_EQ(nameservers_in("nameserver fe80::1%eth0\nnameserver 127.0.0.53\n"
                           "nameserver 127.0.0.53\n"),
            (Addresses{"fe80::1", "127.0.0.53"}));
}

TEST(ResolvConf, SkipsWhatIsNoAddressAndFallsBackToTheLocalHost) {
  EXPECT_EQ(nameservers_in("nameserver dns.example\nnameserver 3232235777\nnameserver\n"
                           "#nameserver 192.0.2.1\n"),
            (Addresses{"127.0.0.1", "::1"}));
  EXPECT_EQ(nameservers_in(""), (Addresses{"127.0.0.1", "::1"}));
}

TEST(ResolvConf, ReadsAFileAndAMissingOneIsEmpty) {
  mp::test::TempDir dir("mp-resolv");
  std::ofstream(dir / "resolv.conf") << "nameserver 192.0.2.53\n";
  EXPECT_EQ(read_nameservers((dir / "resolv.conf").string()), (Addresses{"192.0.2.53"}));
  EXPECT_EQ(read_nameservers((dir / "missing").string()), (Addresses{"127.0.0.1", "::1"}));
}

}  // namespace
}  // namespace mp::webfilter
