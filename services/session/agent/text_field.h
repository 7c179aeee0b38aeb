// The editing model of a one-line answer field: UTF-8 text, a caret between code points, and a
// bound on its length. No X here, so it is tested on its own.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mp::agent {

class TextField {
 public:
  explicit TextField(std::size_t max_chars) : max_chars_(max_chars) {}

  const std::string& text() const { return text_; }
  std::size_t caret() const { return caret_; }  // a byte offset at a code point boundary

  // Inserts typed text at the caret: control characters are dropped, and whatever would pass
  // the bound is not taken. Returns whether anything changed.
  bool insert(std::string_view typed);
  bool erase_before();  // Backspace
  bool erase_after();   // Delete
  void move_left();
  void move_right();
  void move_home() { caret_ = 0; }
  void move_end() { caret_ = text_.size(); }
  void clear();

 private:
  std::size_t max_chars_;
  std::string text_;
  std::size_t caret_ = 0;
};

}  // namespace mp::agent
