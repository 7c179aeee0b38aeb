// An X11 client that draws what tests and benchmarks need on a session display: a static test
// pattern to check pixel by pixel, or a textured box moving at a fixed frame rate.
#pragma once

#include <X11/Xlib.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mp::workload {

struct WorkloadOptions {
  enum class Mode { pattern, box } mode = Mode::pattern;
  int fps = 30;              // box mode: redraws per second
  bool print_input = false;  // print key and button events on stdout (input tests read them)
  double seconds = 0;        // stop after this long (0: run until killed)
  // Every key press flips the reaction square (kReactionSquare below) between black and
  // white, so a client can time input to pixels. The box then keeps out of the top band.
  bool react_key = false;
  // Pattern mode: a progress bar in the white quadrant that advances every 250 ms (so screen
  // thumbnails change), and the characters typed, echoed as black text in that quadrant.
  bool ticker = false;
  bool echo_keys = false;
};

// Where --react-key shows its reaction: a square at the top-left corner of the screen, black at
// start, white after the first key press, and so on. Nothing else draws there.
struct ReactionSquare {
  int x, y, size;
};
inline constexpr ReactionSquare kReactionSquare{0, 0, 64};
// With --react-key the box moves only below this many rows.
inline constexpr int kReactionBand = 96;

class Workload {
 public:
  // Opens `display_name` (empty: $DISPLAY) and maps a window covering the whole screen.
  // Throws std::runtime_error when the display cannot be opened.
  Workload(const std::string& display_name, WorkloadOptions options);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  int run();

 private:
  unsigned long pixel(std::uint8_t r, std::uint8_t g, std::uint8_t b) const;
  void fill(int x, int y, int w, int h, unsigned long color);
  void draw_pattern();
  void draw_box_frame();
  void make_texture();
  void handle(XEvent& event);
  void draw_reaction_square();
  void draw_ticker();
  void draw_echo();
  void echo_key(XKeyEvent& key);

  WorkloadOptions options_;
  Display* display_ = nullptr;
  Window window_ = 0;
  GC gc_ = nullptr;
  Visual* visual_ = nullptr;
  int depth_ = 0;
  int width_ = 0;
  int height_ = 0;
  // Box mode: the texture is regenerated every frame (a moving stripe), so every frame is
  // new content for the encoder, not only a move.
  std::vector<std::uint32_t> texture_;
  XImage* texture_image_ = nullptr;
  std::uint64_t frame_ = 0;
  int box_x_ = 0, box_y_ = 0, box_dx_ = 7, box_dy_ = 5;
  bool reaction_white_ = false;
  int ticks_ = 0;
  std::string echoed_;
};

}  // namespace mp::workload
