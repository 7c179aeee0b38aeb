#include "input_injector.h"

#include <X11/XKBlib.h>
#include <X11/extensions/XTest.h>
#include <freerdp/input.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

#include "scancode_map.h"

namespace mp::rdp {

namespace {

// X core buttons: 1 left, 2 middle, 3 right, 4/5 wheel up/down, 6/7 wheel left/right,
// 8/9 back/forward.
constexpr unsigned kWheelUp = 4, kWheelDown = 5, kWheelLeft = 6, kWheelRight = 7;

}  // namespace

InputInjector::InputInjector(Display* display, int width, int height)
    : display_(display), width_(width), height_(height) {
  int event_base = 0, error_base = 0, major = 0, minor = 0;
  if (!XTestQueryExtension(display_, &event_base, &error_base, &major, &minor)) {
    throw std::runtime_error("display has no XTEST extension");
  }
}

InputInjector::~InputInjector() { release_all(); }

void InputInjector::release_all() {
  for (unsigned keycode : keys_down_) XTestFakeKeyEvent(display_, keycode, False, CurrentTime);
  for (unsigned b : buttons_down_) XTestFakeButtonEvent(display_, b, False, CurrentTime);
  keys_down_.clear();
  buttons_down_.clear();
  XFlush(display_);
}

void InputInjector::keyboard(std::uint16_t flags, std::uint16_t scancode) {
  bool extended = (flags & KBD_FLAGS_EXTENDED) != 0;
  if (flags & KBD_FLAGS_EXTENDED1) {
    // Pause is sent as E1 1D 45: one key, mapped by its second code.
    if ((scancode & 0xff) == 0x1D) return;
  }
  unsigned keycode = x_keycode_for_scancode(scancode & 0xff, extended);
  if ((flags & KBD_FLAGS_EXTENDED1) && (scancode & 0xff) == 0x45) keycode = 119 + 8;  // KEY_PAUSE
  if (keycode == 0) {
    spdlog::debug("no X key for scancode {:#x}{}", scancode, extended ? " (extended)" : "");
    return;
  }
  bool down = (flags & KBD_FLAGS_RELEASE) == 0;
  XTestFakeKeyEvent(display_, keycode, down ? True : False, CurrentTime);
  if (down) {
    keys_down_.insert(keycode);
  } else {
    keys_down_.erase(keycode);
  }
  XFlush(display_);
}

unsigned InputInjector::spare_keycode() {
  if (spare_keycode_ != 0) return spare_keycode_;
  int min_keycode = 0, max_keycode = 0;
  XDisplayKeycodes(display_, &min_keycode, &max_keycode);
  int per_keycode = 0;
  KeySym* map = XGetKeyboardMapping(display_, static_cast<KeyCode>(min_keycode),
                                    max_keycode - min_keycode + 1, &per_keycode);
  if (map == nullptr) return 0;
  // The highest keycode without any keysym: the least likely to be a real key.
  for (int keycode = max_keycode; keycode >= min_keycode && spare_keycode_ == 0; --keycode) {
    bool empty = true;
    for (int i = 0; i < per_keycode; ++i) {
      if (map[(keycode - min_keycode) * per_keycode + i] != NoSymbol) empty = false;
    }
    if (empty) spare_keycode_ = static_cast<unsigned>(keycode);
  }
  XFree(map);
  return spare_keycode_;
}

void InputInjector::unicode(std::uint16_t flags, std::uint16_t code) {
  if (flags & KBD_FLAGS_RELEASE) return;  // typed as a whole on the press
  if (code < 0x20 || (code >= 0x7f && code < 0xa0) || (code >= 0xd800 && code <= 0xdfff)) {
    return;  // control characters and lone UTF-16 surrogates type nothing
  }
  KeySym keysym = code < 0x100 ? code : (0x01000000 | code);
  KeyCode keycode = XKeysymToKeycode(display_, keysym);
  bool shifted = false;
  if (keycode != 0) {
    shifted = XkbKeycodeToKeysym(display_, keycode, 0, 0) != keysym &&
              XkbKeycodeToKeysym(display_, keycode, 0, 1) == keysym;
  } else {
    // Not on the keymap: bind it to a spare keycode for this keystroke.
    keycode = static_cast<KeyCode>(spare_keycode());
    if (keycode == 0) return;
    KeySym syms[2] = {keysym, keysym};
    XChangeKeyboardMapping(display_, keycode, 2, syms, 1);
    XSync(display_, False);
  }
  KeyCode shift = XKeysymToKeycode(display_, 0xffe1);  // Shift_L
  if (shifted && shift != 0) XTestFakeKeyEvent(display_, shift, True, CurrentTime);
  XTestFakeKeyEvent(display_, keycode, True, CurrentTime);
  XTestFakeKeyEvent(display_, keycode, False, CurrentTime);
  if (shifted && shift != 0) XTestFakeKeyEvent(display_, shift, False, CurrentTime);
  XFlush(display_);
}

void InputInjector::move(std::uint16_t x, std::uint16_t y) {
  int cx = std::min<int>(x, width_ - 1), cy = std::min<int>(y, height_ - 1);
  XTestFakeMotionEvent(display_, -1, cx, cy, CurrentTime);
}

void InputInjector::button(unsigned b, bool down) {
  XTestFakeButtonEvent(display_, b, down ? True : False, CurrentTime);
  if (down) {
    buttons_down_.insert(b);
  } else {
    buttons_down_.erase(b);
  }
}

void InputInjector::click(unsigned b) {
  XTestFakeButtonEvent(display_, b, True, CurrentTime);
  XTestFakeButtonEvent(display_, b, False, CurrentTime);
}

void InputInjector::mouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y) {
  if (flags & (PTR_FLAGS_WHEEL | PTR_FLAGS_HWHEEL)) {
    // One X click per 120 units (one notch); at least one for any rotation.
    int rotation = flags & 0xff;
    if (flags & PTR_FLAGS_WHEEL_NEGATIVE) rotation = 0x100 - rotation;
    int clicks = std::clamp(rotation / 120, 1, 10);
    bool negative = (flags & PTR_FLAGS_WHEEL_NEGATIVE) != 0;
    unsigned b = (flags & PTR_FLAGS_WHEEL) ? (negative ? kWheelDown : kWheelUp)
                                           : (negative ? kWheelLeft : kWheelRight);
    for (int i = 0; i < clicks; ++i) click(b);
    XFlush(display_);
    return;
  }
  move(x, y);
  bool down = (flags & PTR_FLAGS_DOWN) != 0;
  if (flags & PTR_FLAGS_BUTTON1) button(1, down);
  if (flags & PTR_FLAGS_BUTTON2) button(3, down);
  if (flags & PTR_FLAGS_BUTTON3) button(2, down);
  XFlush(display_);
}

void InputInjector::extended_mouse(std::uint16_t flags, std::uint16_t x, std::uint16_t y) {
  move(x, y);
  bool down = (flags & PTR_XFLAGS_DOWN) != 0;
  if (flags & PTR_XFLAGS_BUTTON1) button(8, down);
  if (flags & PTR_XFLAGS_BUTTON2) button(9, down);
  XFlush(display_);
}

}  // namespace mp::rdp
