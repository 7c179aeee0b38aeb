// Take control: an operator's mouse and keyboard from the dashboard, injected into the session's
// display with XTest as if typed at the station. Keys arrive as keysyms (the browser knows
// characters, not this display's keycodes): each is found on the display's keymap, with Shift
// added for a second-level symbol, and a keysym the keymap lacks is bound for the moment to a
// keycode no key uses, so any character can be typed whatever the session's layout.
#pragma once

#include <X11/Xlib.h>

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "agent.capnp.h"
#include "x_connection.h"

namespace mp::agent {

class InputInjector {
 public:
  // Throws std::runtime_error if the display has no XTest.
  explicit InputInjector(XConnection& x);
  InputInjector(const InputInjector&) = delete;
  InputInjector& operator=(const InputInjector&) = delete;

  void inject(capnp::List<mp::schema::InputEvent>::Reader events);

 private:
  void move(std::uint16_t x, std::uint16_t y);
  void key(KeySym keysym, bool down);
  // A keycode that types `keysym` (binding a spare one if needed) and whether it needs Shift;
  // 0 if none can be had.
  KeyCode keycode_for(KeySym keysym, bool* shifted);
  KeyCode bind_spare(KeySym keysym);

  XConnection& x_;
  KeyCode shift_ = 0;
  std::set<KeySym> held_shifts_;       // Shift keys the operator holds down now
  std::map<KeySym, KeyCode> pressed_;  // keys down now: released with the same keycode
  std::vector<KeyCode> spare_;         // keycodes with no symbol, for keysyms bound on demand
  std::map<KeySym, KeyCode> bound_;    // keysyms bound to spare keycodes
  std::size_t next_spare_ = 0;
};

}  // namespace mp::agent
