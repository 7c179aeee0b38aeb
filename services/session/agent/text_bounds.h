// Text from the wire ends up on a student's screen, and text typed there goes back on the wire:
// both are kept valid UTF-8, printable and short here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mp::agent {

// What an instant message, a lock message or an answer may hold when shown or sent.
inline constexpr std::size_t kMaxMessageChars = 500;
inline constexpr std::size_t kMaxAnswerChars = 500;
inline constexpr std::size_t kMaxSenderChars = 64;
inline constexpr std::size_t kMaxNoticeChars = 2000;

// At most `max_chars` code points of valid UTF-8: invalid bytes become U+FFFD, control and
// bidirectional-override characters are dropped (a newline is kept when `keep_newlines`, a tab
// becomes a space), and text that had to be cut ends with "…" (counted in `max_chars`).
std::string bounded_text(std::string_view text, std::size_t max_chars, bool keep_newlines);

// Decodes the code point at `pos` of `text`; returns how many bytes it takes, 0 if the bytes
// there are not valid UTF-8 (overlong forms, surrogates and values past U+10FFFF are invalid).
std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t* code_point);

void append_utf8(std::string& out, char32_t code_point);

// Code points in valid UTF-8 text.
std::size_t utf8_length(std::string_view text);
// The byte offset of the code point after / before the one at `pos` in valid UTF-8 text.
std::size_t utf8_next(std::string_view text, std::size_t pos);
std::size_t utf8_previous(std::string_view text, std::size_t pos);

}  // namespace mp::agent
