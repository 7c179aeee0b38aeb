// Breaking text into lines that fit a width, for any font: the width of a piece of text is
// asked of a function, so the rules are tested without a display.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace mp::agent {

using MeasureWidth = std::function<int(std::string_view)>;

// Lines no wider than `max_width`: a newline always breaks; otherwise lines break between
// words, and a word wider than a whole line is broken between characters. Runs of spaces
// between words collapse to one.
std::vector<std::string> wrap_text(std::string_view text, int max_width,
                                   const MeasureWidth& measure);

}  // namespace mp::agent
