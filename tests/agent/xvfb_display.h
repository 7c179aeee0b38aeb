// A real X server for the agent's tests: Xvfb on a display number derived from the test's pid
// (so suites run in parallel), with an MIT-MAGIC-COOKIE in its own xauth file, plus the test's
// own client connection to it: screenshots, XTest input, a window playing the desktop.
#pragma once

#include <X11/Xlib.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {

struct Screenshot {
  int width = 0;
  int height = 0;
  std::vector<std::uint32_t> pixels;  // 0xRRGGBB, row by row

  std::uint32_t at(int x, int y) const { return pixels[std::size_t(y) * width + x]; }
  Screenshot crop(int x, int y, int w, int h) const;
  // Pixels of `rgb` in the rectangle.
  std::size_t count(std::uint32_t rgb, int x, int y, int w, int h) const;
  void save_png(const std::filesystem::path& path) const;
};

class XvfbDisplay {
 public:
  explicit XvfbDisplay(int width = 1024, int height = 768);
  ~XvfbDisplay();
  XvfbDisplay(const XvfbDisplay&) = delete;
  XvfbDisplay& operator=(const XvfbDisplay&) = delete;

  std::string name() const { return ":" + std::to_string(number_); }
  // DISPLAY and XAUTHORITY for a client of this server.
  std::map<std::string, std::string> client_environment() const;
  Display* display() const { return display_; }
  Window root() const { return DefaultRootWindow(display_); }
  const TempDir& dir() const { return dir_; }
  void kill_server();

  Screenshot screenshot();
  // Viewable top-level windows whose name starts with `prefix`.
  std::vector<Window> find_windows(const std::string& prefix);
  std::optional<Window> find_window(const std::string& prefix);
  // The window's place on the root.
  void geometry(Window window, int* x, int* y, int* width, int* height);

  // Input through XTest, as a keyboard and mouse would give it.
  void type_text(const std::string& ascii);
  void press_key(unsigned long keysym);
  void click(int x, int y);
  void move_pointer(int x, int y);

 private:
  TempDir dir_{"mp-agent"};
  int number_ = 0;
  std::unique_ptr<ChildProcess> server_;
  Display* display_ = nullptr;
};

// A full-screen window under everything, playing the student's desktop: it has the input
// focus and counts the keys and clicks that reach it.
class DesktopWindow {
 public:
  static constexpr std::uint32_t kColour = 0x2E7D32;  // green: nothing else draws it
  explicit DesktopWindow(XvfbDisplay& x);
  ~DesktopWindow();
  // Reads what has arrived so far.
  void collect();
  int keys() const { return keys_; }
  int clicks() const { return clicks_; }
  // The Latin-1 text the keys typed, and where the last click was (x, y, button).
  const std::string& typed() const { return typed_; }
  std::array<int, 3> last_click() const { return last_click_; }
  Window window() const { return window_; }
  void focus();

 private:
  XvfbDisplay& x_;
  Window window_ = 0;
  int keys_ = 0;
  int clicks_ = 0;
  std::string typed_;
  std::array<int, 3> last_click_{-1, -1, 0};
};

}  // namespace mp::test
