// The static test pattern mp-workload --pattern draws, as a pure function, so a test can check a
// screenshot of an RDP client pixel by pixel against what the session display shows.
//
// Four solid quadrants (red, green, blue, white) and a black marker square centred in the red
// quadrant: colours catch channel swaps (BGR vs RGB), the marker catches flips and offsets.
#pragma once

#include <cstdint>

namespace mp::workload {

struct Rgb {
  std::uint8_t r = 0, g = 0, b = 0;
  bool operator==(const Rgb&) const = default;
};

inline constexpr Rgb kTopLeft{255, 0, 0};
inline constexpr Rgb kTopRight{0, 255, 0};
inline constexpr Rgb kBottomLeft{0, 0, 255};
inline constexpr Rgb kBottomRight{255, 255, 255};
inline constexpr Rgb kMarker{0, 0, 0};
inline constexpr int kMarkerSize = 64;

struct MarkerRect {
  int x, y, size;
};

// The marker sits at the centre of the top-left quadrant.
constexpr MarkerRect marker_rect(int width, int height) {
  return {width / 4 - kMarkerSize / 2, height / 4 - kMarkerSize / 2, kMarkerSize};
}

constexpr Rgb pattern_pixel(int x, int y, int width, int height) {
  auto m = marker_rect(width, height);
  if (x >= m.x && x < m.x + m.size && y >= m.y && y < m.y + m.size) return kMarker;
  bool left = x < width / 2;
  bool top = y < height / 2;
  if (top) return left ? kTopLeft : kTopRight;
  return left ? kBottomLeft : kBottomRight;
}

// Where --ticker and --echo-keys draw: inside the white (bottom-right) quadrant.
struct TextLine {
  int x, baseline, width, height;
};
constexpr TextLine echo_line(int width, int height) {
  return {width / 2 + 16, height / 2 + 48, width / 2 - 32, 24};
}
constexpr TextLine ticker_bar(int width, int height) {
  return {width / 2 + 16, height - 48, width / 2 - 32, 16};
}
inline constexpr int kTickerSteps = 40;

}  // namespace mp::workload
