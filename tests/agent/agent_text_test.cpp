// The text rules: what from the wire may be shown, how the answer field edits, how lines wrap.
#include <gtest/gtest.h>

#include "text_bounds.h"
#include "text_field.h"
#include "text_layout.h"

namespace mp::agent {
namespace {

TEST(BoundedText, KeepsShortPrintableTextAsItIs) {
  EXPECT_EQ(bounded_text("Hello, Zoë — 你好", 100, false), "Hello, Zoë — 你好");
}

TEST(BoundedText, CutsAtTheLimitWithAnEllipsisOnACodePointBoundary) {
  std::string cut = bounded_text(std::string(600, 'a'), 500, false);
  EXPECT_EQ(utf8_length(cut), 500u);
  EXPECT_EQ(cut.substr(cut.size() - 3), "\u2026");
  std::string wide = bounded_text(std::string(10, 'x') + "ééééé", 12, false);
  EXPECT_EQ(wide, std::string(10, 'x') + "é\u2026");
  EXPECT_EQ(bounded_text("exactly", 7, false), "exactly");
}

TEST(BoundedText, ReplacesInvalidUtf8AndDropsControlsAndOverrides) {
  EXPECT_EQ(bounded_text("a\xff"
                         "b",
                         10, false),
            "a\uFFFDb");
  EXPECT_EQ(bounded_text("\xc0\xaf", 10, false), "\uFFFD\uFFFD");            // overlong '/'
  EXPECT_EQ(bounded_text("\xed\xa0\x80", 10, false), "\uFFFD\uFFFD\uFFFD");  // surrogate
  EXPECT_EQ(bounded_text("a\x1b[2Jb\x07", 10, false), "a[2Jb");
  EXPECT_EQ(bounded_text("abc\u202Egpj.exe", 20, false), "abcgpj.exe");
  EXPECT_EQ(bounded_text("one\r\ntwo\tthree", 20, true), "one\ntwo three");
  EXPECT_EQ(bounded_text("one\ntwo", 20, false), "onetwo");
  EXPECT_EQ(bounded_text(std::string("a\0b", 3), 20, false), "ab");
}

TEST(TextField, EditsAtTheCaretByCodePoint) {
  TextField field(500);
  field.insert("héllo");
  field.move_left();
  field.move_left();
  field.insert("XY");
  EXPECT_EQ(field.text(), "hélXYlo");
  field.move_home();
  field.move_right();
  field.move_right();
  EXPECT_TRUE(field.erase_before());  // the é, two bytes, as one character
  EXPECT_EQ(field.text(), "hlXYlo");
  field.move_end();
  EXPECT_FALSE(field.erase_after());
  EXPECT_TRUE(field.erase_before());
  EXPECT_EQ(field.text(), "hlXYl");
}

TEST(TextField, TakesNoMoreThanItsLimitAndNoControls) {
  TextField field(5);
  EXPECT_TRUE(field.insert("abc\n\x01"));
  EXPECT_EQ(field.text(), "abc");
  EXPECT_TRUE(field.insert("dééé"));
  EXPECT_EQ(field.text(), "abcdé");
  EXPECT_FALSE(field.insert("z"));
  EXPECT_EQ(utf8_length(field.text()), 5u);
}

// A fixed-width "font": 10 pixels per code point.
int monospace(std::string_view text) { return static_cast<int>(utf8_length(text)) * 10; }

TEST(WrapText, BreaksBetweenWordsAndAtNewlines) {
  auto lines = wrap_text("the quick brown fox\njumps", 100, monospace);
  EXPECT_EQ(lines, (std::vector<std::string>{"the quick", "brown fox", "jumps"}));
}

TEST(WrapText, BreaksAWordLongerThanALine) {
  auto lines = wrap_text("ab abcdefghijklmnopqrstuvwxyz cd", 100, monospace);
  EXPECT_EQ(lines, (std::vector<std::string>{"ab", "abcdefghij", "klmnopqrst", "uvwxyz cd"}));
  for (const auto& line : lines) EXPECT_LE(monospace(line), 100);
}

TEST(WrapText, KeepsEmptyLinesAndMakesProgressWhenNothingFits) {
  EXPECT_EQ(wrap_text("a\n\nb", 100, monospace), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(wrap_text("abc", 5, monospace), (std::vector<std::string>{"a", "b", "c"}));
}

}  // namespace
}  // namespace mp::agent
