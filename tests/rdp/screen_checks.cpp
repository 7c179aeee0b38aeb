#include "screen_checks.h"

#include <cstdlib>

#include "test_pattern.h"

namespace mp::test {

int pattern_mismatches(const Screenshot& shot, std::pair<int, int> origin, int width, int height,
                       int tolerance) {
  if (shot.width < origin.first + width || shot.height < origin.second + height) return 1 << 20;
  int mismatches = 0;
  auto marker = mp::workload::marker_rect(width, height);
  // Sample points on a grid, away from colour edges (lossy codecs may blur an edge a little).
  auto near_edge = [&](int x, int y) {
    auto close = [](int a, int b) { return a > b - 4 && a < b + 4; };
    return close(x, width / 2) || close(y, height / 2) || close(x, marker.x) ||
           close(x, marker.x + marker.size) || close(y, marker.y) ||
           close(y, marker.y + marker.size);
  };
  for (int y = 2; y < height - 2; y += 7) {
    for (int x = 2; x < width - 2; x += 7) {
      if (near_edge(x, y)) continue;
      auto want = mp::workload::pattern_pixel(x, y, width, height);
      auto got = shot.at(origin.first + x, origin.second + y);
      if (std::abs(got.r - want.r) > tolerance || std::abs(got.g - want.g) > tolerance ||
          std::abs(got.b - want.b) > tolerance) {
        ++mismatches;
      }
    }
  }
  return mismatches;
}

double colour_share(const Screenshot& shot, std::pair<int, int> origin, int width, int height,
                    Colour colour, int tolerance) {
  if (shot.width < origin.first + width || shot.height < origin.second + height) return 0;
  int samples = 0, matching = 0;
  for (int y = 2; y < height - 2; y += 9) {
    for (int x = 2; x < width - 2; x += 9) {
      auto got = shot.at(origin.first + x, origin.second + y);
      ++samples;
      if (std::abs(got.r - colour.r) <= tolerance && std::abs(got.g - colour.g) <= tolerance &&
          std::abs(got.b - colour.b) <= tolerance) {
        ++matching;
      }
    }
  }
  return samples == 0 ? 0 : static_cast<double>(matching) / samples;
}

}  // namespace mp::test
