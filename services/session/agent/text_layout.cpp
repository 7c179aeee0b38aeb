#include "text_layout.h"

#include "text_bounds.h"

namespace mp::agent {

namespace {

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, end - start));
    start = end + 1;
  }
}

// Appends the lines of one paragraph (text without newlines).
void wrap_paragraph(std::string_view paragraph, int max_width, const MeasureWidth& measure,
                    std::vector<std::string>& lines) {
  const std::size_t first = lines.size();
  std::string line;
  for (std::string_view word : split(paragraph, ' ')) {
    if (word.empty()) continue;
    std::string candidate = line.empty() ? std::string(word) : line + " " + std::string(word);
    if (measure(candidate) <= max_width) {
      line = std::move(candidate);
      continue;
    }
    if (!line.empty()) lines.push_back(std::move(line));
    line.clear();
    // A word too long for any line is cut where it stops fitting; at least one character goes
    // on each line so a very narrow width still makes progress.
    std::size_t start = 0;
    while (start < word.size()) {
      std::size_t end = utf8_next(word, start);
      while (end < word.size() &&
             measure(word.substr(start, utf8_next(word, end) - start)) <= max_width) {
        end = utf8_next(word, end);
      }
      std::string piece(word.substr(start, end - start));
      start = end;
      if (start < word.size() || measure(piece) > max_width) {
        lines.push_back(std::move(piece));
      } else {
        line = std::move(piece);
      }
    }
  }
  // An empty paragraph is an empty line; otherwise only what is left over.
  if (!line.empty() || lines.size() == first) lines.push_back(std::move(line));
}

}  // namespace

std::vector<std::string> wrap_text(std::string_view text, int max_width,
                                   const MeasureWidth& measure) {
  std::vector<std::string> lines;
  for (std::string_view paragraph : split(text, '\n')) {
    wrap_paragraph(paragraph, max_width, measure, lines);
  }
  return lines;
}

}  // namespace mp::agent
