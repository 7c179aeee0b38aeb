#include "mp/lockscreen/lock_painter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

namespace mp::lockscreen {
namespace {

constexpr std::uint32_t kBackground = 0x0f2a47;

// Pixels within a band of rows that are not the background: something was drawn there.
int drawn_in_rows(const Picture& p, int from, int to) {
  int count = 0;
  for (int y = std::max(from, 0); y < std::min(to, p.height); ++y) {
    for (int x = 0; x < p.width; ++x) count += p.pixel(x, y) != kBackground;
  }
  return count;
}

// The rows (top, bottom) that hold anything but the background.
std::pair<int, int> drawn_extent(const Picture& p) {
  int top = -1, bottom = -1;
  for (int y = 0; y < p.height; ++y) {
    if (drawn_in_rows(p, y, y + 1) > 0) {
      if (top < 0) top = y;
      bottom = y;
    }
  }
  return {top, bottom};
}

// MP_LOCK_PICTURE_OUT=DIR keeps the pictures (as PPM) to look at.
void keep(const Picture& p, const std::string& name) {
  const char* dir = std::getenv("MP_LOCK_PICTURE_OUT");
  if (dir == nullptr) return;
  std::ofstream out(std::string(dir) + "/" + name + ".ppm", std::ios::binary);
  out << "P6\n" << p.width << " " << p.height << "\n255\n";
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      std::uint32_t rgb = p.pixel(x, y);
      char px[3] = {static_cast<char>(rgb >> 16), static_cast<char>(rgb >> 8),
                    static_cast<char>(rgb)};
      out.write(px, 3);
    }
  }
}

TEST(LockPainter, DrawsPadlockTitleAndMessageCentredOnTheBackground) {
  LockPainter painter;
  const Picture& p = *painter.paint(1280, 720, {.message = "Eyes on me, please"});
  keep(p, "lock-1280x720");
  ASSERT_EQ(p.pixels.size(), 1280u * 720 * 4);
  EXPECT_EQ(p.pixel(0, 0), kBackground);
  EXPECT_EQ(p.pixel(1279, 719), kBackground);
  auto [top, bottom] = drawn_extent(p);
  EXPECT_GT(top, 50);
  EXPECT_LT(bottom, 719);
  // The padlock's amber is at the top of the block, in the middle.
  bool amber = false;
  for (int y = top; y < top + 60 && !amber; ++y) {
    std::uint32_t c = p.pixel(640, y);
    amber = (c >> 16) > 0xc0 && ((c >> 8) & 0xff) > 0x90 && (c & 0xff) < 0x60;
  }
  EXPECT_TRUE(amber);
  // Left and right halves hold about as much ink: the text is centred.
  int left = 0, right = 0;
  for (int y = top; y <= bottom; ++y) {
    for (int x = 0; x < 640; ++x) left += p.pixel(x, y) != kBackground;
    for (int x = 640; x < 1280; ++x) right += p.pixel(x, y) != kBackground;
  }
  EXPECT_NEAR(static_cast<double>(left) / right, 1.0, 0.25);
}

TEST(LockPainter, TheMessageChangesThePicture) {
  LockPainter painter;
  auto a = painter.paint(800, 600, {.message = "Test in progress"});
  auto b = painter.paint(800, 600, {.message = "Pencils down"});
  auto none = painter.paint(800, 600, {.message = ""});
  EXPECT_NE(a->pixels, b->pixels);
  EXPECT_NE(a->pixels, none->pixels);
  // The same lock again is the same picture, not a new painting.
  EXPECT_EQ(painter.paint(800, 600, {.message = "Test in progress"}), a);
  EXPECT_NE(painter.paint(801, 600, {.message = "Test in progress"}), a);
}

TEST(LockPainter, ALongMessageStaysOnTheScreenAndEndsWithAnEllipsis) {
  LockPainter painter;
  std::string message;
  for (int i = 0; i < 400; ++i) message += "blah ";
  message += std::string(3000, 'W');  // one word wider than any line
  const Picture& p = *painter.paint(1024, 768, {.message = message});
  keep(p, "lock-long");
  auto [top, bottom] = drawn_extent(p);
  EXPECT_GE(top, 0);
  EXPECT_LT(bottom, 768);
  // Nothing touches the left and right edges: lines are cut to 80 % of the width.
  for (int y = 0; y < p.height; ++y) {
    ASSERT_EQ(p.pixel(0, y), kBackground) << y;
    ASSERT_EQ(p.pixel(p.width - 1, y), kBackground) << y;
  }
}

TEST(LockPainter, AnySizeAndAnyBytesArePainted) {
  LockPainter painter;
  std::string garbage = "\xff\xfe\xc0\x80 ok \xed\xa0\x80 \xf4\x90\x80\x80 \x01\x1b[31m \xe2\x82";
  for (auto [w, h] : {std::pair{1, 1}, {16, 9}, {640, 480}, {0, -5}, {20000, 3}}) {
    const Picture& p = *painter.paint(w, h, {.message = garbage});
    EXPECT_EQ(p.pixels.size(), static_cast<std::size_t>(p.width) * p.height * 4);
    EXPECT_GE(p.width, 1);
    EXPECT_LE(p.width, 8192);
  }
  const Picture& cjk =
      *painter.paint(640, 480, {.message = "請看老師 — Schau nach vorne — Смотрите"});
  keep(cjk, "lock-scripts");
  EXPECT_GT(drawn_in_rows(cjk, 0, 480), 1000);
}

TEST(DecodeUtf8, MalformedBytesBecomeReplacementsAndControlsGo) {
  EXPECT_EQ(decode_utf8("a\xc3\xa9"), (std::vector<char32_t>{U'a', U'é'}));
  EXPECT_EQ(decode_utf8("\xc0\x80"), (std::vector<char32_t>{0xfffd}));      // overlong NUL
  EXPECT_EQ(decode_utf8("\xed\xa0\x80"), (std::vector<char32_t>{0xfffd}));  // a surrogate
  EXPECT_EQ(decode_utf8("x\x07y\nz"), (std::vector<char32_t>{U'x', U'y', U' ', U'z'}));
  EXPECT_EQ(decode_utf8("\xe2\x82"), (std::vector<char32_t>{0xfffd, 0xfffd}));
}

}  // namespace
}  // namespace mp::lockscreen
