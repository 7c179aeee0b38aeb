#include "text_field.h"

#include "text_bounds.h"

namespace mp::agent {

bool TextField::insert(std::string_view typed) {
  std::size_t room = max_chars_ - utf8_length(text_);
  if (room == 0) return false;
  std::string clean = bounded_text(typed, utf8_length(typed), /*keep_newlines=*/false);
  // Cut at a code point boundary without the ellipsis bounded_text would add.
  std::size_t end = 0;
  for (std::size_t taken = 0; end < clean.size() && taken < room; ++taken) {
    end = utf8_next(clean, end);
  }
  clean.resize(end);
  if (clean.empty()) return false;
  text_.insert(caret_, clean);
  caret_ += clean.size();
  return true;
}

bool TextField::erase_before() {
  if (caret_ == 0) return false;
  std::size_t start = utf8_previous(text_, caret_);
  text_.erase(start, caret_ - start);
  caret_ = start;
  return true;
}

bool TextField::erase_after() {
  if (caret_ >= text_.size()) return false;
  text_.erase(caret_, utf8_next(text_, caret_) - caret_);
  return true;
}

void TextField::move_left() { caret_ = utf8_previous(text_, caret_); }

void TextField::move_right() { caret_ = utf8_next(text_, caret_); }

void TextField::clear() {
  text_.clear();
  caret_ = 0;
}

}  // namespace mp::agent
