// The agent's connection to its session's X display: opened from $DISPLAY/$XAUTHORITY, with
// error handlers that log protocol errors and end the process when the display is gone
// (mp-session starts a new agent when the display is back).
#pragma once

#include <X11/Xlib.h>

#include <cstdint>
#include <map>
#include <string>

namespace mp::agent {

// Exit status when the display connection breaks: mp-session restarts the agent.
inline constexpr int kExitDisplayLost = 3;

struct Rgb {
  std::uint8_t r, g, b;
  constexpr std::uint32_t packed() const { return (std::uint32_t(r) << 16) | (g << 8) | b; }
  constexpr bool operator<(const Rgb& o) const { return packed() < o.packed(); }
};

class XConnection {
 public:
  // Opens the display named by $DISPLAY; throws std::runtime_error if it cannot.
  XConnection();
  ~XConnection();
  XConnection(const XConnection&) = delete;
  XConnection& operator=(const XConnection&) = delete;

  Display* display() const { return display_; }
  int screen() const { return screen_; }
  Window root() const { return root_; }
  Visual* visual() const { return DefaultVisual(display_, screen_); }
  Colormap colormap() const { return DefaultColormap(display_, screen_); }
  int depth() const { return DefaultDepth(display_, screen_); }
  int fd() const { return ConnectionNumber(display_); }
  std::string name() const { return DisplayString(display_); }

  Atom atom(const char* name);
  // The pixel value of a colour in the default visual (computed for TrueColor, else allocated).
  unsigned long pixel(Rgb colour);
  // The input method for typed text (compose, dead keys, non-Latin layouts); null if none.
  XIM input_method() const { return input_method_; }
  // RandR's first event code, or -1 if the display has no RandR.
  int randr_event_base() const { return randr_event_base_; }
  // The root window's size now.
  void root_size(int* width, int* height) const;

 private:
  Display* display_ = nullptr;
  int screen_ = 0;
  Window root_ = 0;
  XIM input_method_ = nullptr;
  int randr_event_base_ = -1;
  std::map<std::string, Atom> atoms_;
  std::map<Rgb, unsigned long> allocated_;
};

}  // namespace mp::agent
