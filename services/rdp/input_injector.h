// Replays a client's keyboard and mouse on the session's X display through XTest. Every
// coordinate is clipped to the display; keys and buttons still down when the client goes are
// released, so nothing stays stuck in the session. Used on the peer's thread only.
#pragma once

#include <X11/Xlib.h>

#include <cstdint>
#include <set>

namespace mp::rdp {

class InputInjector {
 public:
  // Throws std::runtime_error when the display has no XTEST extension.
  InputInjector(Display* display, int width, int height);
  ~InputInjector();  // releases whatever is still held
  InputInjector(const InputInjector&) = delete;
  InputInjector& operator=(const InputInjector&) = delete;

  // RDP slow-path/fast-path event fields, as FreeRDP's rdpInput delivers them.
  void keyboard(std::uint16_t flags, std::uint16_t scancode);
  void unicode(std::uint16_t flags, std::uint16_t code);
  void mouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y);
  void extended_mouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y);
  void release_all();

 private:
  void move(std::uint16_t x, std::uint16_t y);
  void button(unsigned button, bool down);
  void click(unsigned button);
  unsigned spare_keycode();

  Display* display_;
  int width_;
  int height_;
  std::set<unsigned> keys_down_;
  std::set<unsigned> buttons_down_;
  unsigned spare_keycode_ = 0;  // a keycode without keysyms, remapped for unicode input
};

}  // namespace mp::rdp
