// The parts of mp-rdp that judge client-supplied data, tested without a process.
#include <gtest/gtest.h>

#include "listen_address.h"
#include "scancode_map.h"
#include "station_identity.h"

namespace mp::rdp {
namespace {

using namespace std::chrono_literals;

TEST(StationKey, KeepsAllowedBytesAndPrefixesRdp) {
  EXPECT_EQ(station_key_for("lab-pc.07_a@x/y:z"), "rdp:lab-pc.07_a@x/y:z");
}

TEST(StationKey, ReplacesEverythingElse) {
  EXPECT_EQ(station_key_for("a b\tc\xff;'"), "rdp:a_b_c___");
}

TEST(StationKey, EmptyNameGetsAPlaceholder) { EXPECT_EQ(station_key_for(""), "rdp:unnamed"); }

TEST(StationKey, StopsAtNulAndAt128Bytes) {
  EXPECT_EQ(station_key_for(std::string("pc\0evil", 7)), "rdp:pc");
  auto key = station_key_for(std::string(500, 'x'));
  EXPECT_EQ(key.size(), kMaxStationKeyBytes);
  EXPECT_EQ(key.substr(0, 4), "rdp:");
}

TEST(Printable, ReplacesControlAndNonAscii) {
  EXPECT_EQ(printable("a\nb\x01\xc3\xa9", 10), "a?b???");
  EXPECT_EQ(printable("abcdef", 3), "abc");
}

TEST(DesktopSize, ClampsAbsurdSizes) {
  EXPECT_EQ(clamp_desktop(0, 0), (DesktopSize{640, 480}));
  EXPECT_EQ(clamp_desktop(100000, 70000), (DesktopSize{4096, 2160}));
  EXPECT_EQ(clamp_desktop(1920, 1080), (DesktopSize{1920, 1080}));
}

TEST(ScancodeMap, BasicKeysAreEvdevCodes) {
  EXPECT_EQ(x_keycode_for_scancode(0x1E, false), 38);  // A
  EXPECT_EQ(x_keycode_for_scancode(0x01, false), 9);   // Escape
  EXPECT_EQ(x_keycode_for_scancode(0x58, false), 96);  // F12
  EXPECT_EQ(x_keycode_for_scancode(0x1C, false), 36);  // Return
}

TEST(ScancodeMap, ExtendedKeysDifferFromTheirBaseKeys) {
  EXPECT_EQ(x_keycode_for_scancode(0x1C, true), 104);  // KP_Enter
  EXPECT_EQ(x_keycode_for_scancode(0x48, true), 111);  // Up
  EXPECT_EQ(x_keycode_for_scancode(0x38, true), 108);  // AltGr
  EXPECT_EQ(x_keycode_for_scancode(0x48, false), 80);  // KP_8
}

TEST(ScancodeMap, UnknownScancodesMapToNothing) {
  EXPECT_EQ(x_keycode_for_scancode(0x00, false), 0);
  EXPECT_EQ(x_keycode_for_scancode(0xFF, false), 0);
  EXPECT_EQ(x_keycode_for_scancode(0x02, true), 0);
}

TEST(ListenAddress, ParsesHostAndPort) {
  auto a = parse_listen_address("0.0.0.0:3389");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "0.0.0.0");
  EXPECT_EQ(a->port, 3389);
  auto v6 = parse_listen_address("[::1]:13389");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
}

TEST(ListenAddress, RefusesMalformedInput) {
  for (const char* bad : {"", "3389", ":3389", "host:", "host:0", "host:65536", "host:12x",
                          "::1:3389", "[]:1", "host:99999999999"}) {
    EXPECT_FALSE(parse_listen_address(bad)) << bad;
  }
}

}  // namespace
}  // namespace mp::rdp
