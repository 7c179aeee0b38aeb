// What a test checks on a screenshot of an RDP client: the session's test pattern
// (tools/workload/test_pattern.h), or the lock overlay of mp-agent.
#pragma once

#include <cstdint>
#include <utility>

#include "xvfb.h"

namespace mp::test {

// Counts sample points of `shot` (window at `origin`) that differ from the test pattern.
int pattern_mismatches(const Screenshot& shot, std::pair<int, int> origin, int width, int height,
                       int tolerance);

struct Colour {
  std::uint8_t r, g, b;
};
// The share (0..1) of sample points of the window within `tolerance` of `colour`.
double colour_share(const Screenshot& shot, std::pair<int, int> origin, int width, int height,
                    Colour colour, int tolerance);

}  // namespace mp::test
