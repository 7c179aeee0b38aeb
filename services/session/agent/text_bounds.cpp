#include "text_bounds.h"

namespace mp::agent {

namespace {

constexpr char32_t kReplacement = 0xFFFD;

bool is_continuation(unsigned char byte) { return (byte & 0xC0) == 0x80; }

// Characters that would let a sender hide or reorder what the student reads.
bool is_hidden_control(char32_t c) {
  if (c < 0x20 || c == 0x7F || (c >= 0x80 && c <= 0x9F)) return true;
  if (c >= 0x202A && c <= 0x202E) return true;  // bidi embeddings and overrides
  if (c >= 0x2066 && c <= 0x2069) return true;  // bidi isolates
  return c == 0xFEFF;                           // byte order mark / zero-width no-break space
}

}  // namespace

std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t* code_point) {
  if (pos >= text.size()) return 0;
  auto lead = static_cast<unsigned char>(text[pos]);
  std::size_t length;
  char32_t value;
  char32_t minimum;
  if (lead < 0x80) {
    *code_point = lead;
    return 1;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, value = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, value = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, value = lead & 0x07, minimum = 0x10000;
  } else {
    return 0;
  }
  if (pos + length > text.size()) return 0;
  for (std::size_t i = 1; i < length; ++i) {
    auto byte = static_cast<unsigned char>(text[pos + i]);
    if (!is_continuation(byte)) return 0;
    value = (value << 6) | (byte & 0x3F);
  }
  if (value < minimum || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
  *code_point = value;
  return length;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string bounded_text(std::string_view text, std::size_t max_chars, bool keep_newlines) {
  std::string out;
  std::size_t count = 0;
  // Remembered so that a cut can take back the last character to make room for the ellipsis.
  std::size_t before_last = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    char32_t c;
    std::size_t length = decode_utf8(text, pos, &c);
    if (length == 0) {
      c = kReplacement;
      length = 1;
    }
    pos += length;
    if (c == '\t') c = ' ';
    if (c == '\r') continue;
    if (is_hidden_control(c) && !(c == '\n' && keep_newlines)) continue;
    if (count == max_chars) {
      if (max_chars == 0) return out;
      out.resize(before_last);
      append_utf8(out, U'\u2026');
      return out;
    }
    before_last = out.size();
    append_utf8(out, c);
    ++count;
  }
  return out;
}

std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (char byte : text) {
    if (!is_continuation(static_cast<unsigned char>(byte))) ++count;
  }
  return count;
}

std::size_t utf8_next(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return text.size();
  ++pos;
  while (pos < text.size() && is_continuation(static_cast<unsigned char>(text[pos]))) ++pos;
  return pos;
}

std::size_t utf8_previous(std::string_view text, std::size_t pos) {
  if (pos == 0) return 0;
  if (pos > text.size()) pos = text.size();
  --pos;
  while (pos > 0 && is_continuation(static_cast<unsigned char>(text[pos]))) --pos;
  return pos;
}

}  // namespace mp::agent
