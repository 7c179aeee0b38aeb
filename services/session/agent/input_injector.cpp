#include "input_injector.h"

#include <X11/XKBlib.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

namespace mp::agent {

InputInjector::InputInjector(XConnection& x) : x_(x) {
  int event_base = 0, error_base = 0, major = 0, minor = 0;
  if (!XTestQueryExtension(x_.display(), &event_base, &error_base, &major, &minor)) {
    throw std::runtime_error("the display has no XTest extension: no take control");
  }
  shift_ = XKeysymToKeycode(x_.display(), XK_Shift_L);
  int min_code = 0, max_code = 0, per_code = 0;
  XDisplayKeycodes(x_.display(), &min_code, &max_code);
  KeySym* map = XGetKeyboardMapping(x_.display(), static_cast<KeyCode>(min_code),
                                    max_code - min_code + 1, &per_code);
  if (map != nullptr) {
    for (int code = min_code; code <= max_code; ++code) {
      bool empty = true;
      for (int i = 0; i < per_code; ++i) empty &= map[(code - min_code) * per_code + i] == NoSymbol;
      if (empty) spare_.push_back(static_cast<KeyCode>(code));
    }
    XFree(map);
  }
}

void InputInjector::inject(capnp::List<mp::schema::InputEvent>::Reader events) {
  for (auto event : events) {
    switch (event.which()) {
      case mp::schema::InputEvent::POINTER:
        move(event.getPointer().getX(), event.getPointer().getY());
        break;
      case mp::schema::InputEvent::BUTTON: {
        auto button = event.getButton();
        if (button.getButton() >= 1 && button.getButton() <= 7) {
          XTestFakeButtonEvent(x_.display(), button.getButton(), button.getDown() ? True : False,
                               CurrentTime);
        }
        break;
      }
      case mp::schema::InputEvent::KEY:
        key(event.getKey().getKeysym(), event.getKey().getDown());
        break;
      default:
        break;  // a newer kind: ignored
    }
  }
  XFlush(x_.display());
}

void InputInjector::move(std::uint16_t x, std::uint16_t y) {
  int width = 0, height = 0;
  x_.root_size(&width, &height);
  if (width <= 0 || height <= 0) return;
  // 0..65535 across the screen; the last pixel is 65535.
  int px = static_cast<int>(static_cast<long long>(x) * (width - 1) / 65535);
  int py = static_cast<int>(static_cast<long long>(y) * (height - 1) / 65535);
  XTestFakeMotionEvent(x_.display(), x_.screen(), px, py, CurrentTime);
}

void InputInjector::key(KeySym keysym, bool down) {
  bool is_shift = keysym == XK_Shift_L || keysym == XK_Shift_R;
  if (!down) {
    auto it = pressed_.find(keysym);
    if (it == pressed_.end()) return;  // never pressed (or pressed before this agent started)
    XTestFakeKeyEvent(x_.display(), it->second, False, CurrentTime);
    pressed_.erase(it);
    if (is_shift) held_shifts_.erase(keysym);
    return;
  }
  bool shifted = false;
  KeyCode code = keycode_for(keysym, &shifted);
  if (code == 0) {
    spdlog::debug("take control: keysym {:#x} cannot be typed here", keysym);
    return;
  }
  if (is_shift) held_shifts_.insert(keysym);
  // A second-level symbol ('A', '!') needs Shift unless the operator already holds it; it is
  // released at once: the character is made on the press.
  bool add_shift = shifted && held_shifts_.empty() && shift_ != 0;
  if (add_shift) XTestFakeKeyEvent(x_.display(), shift_, True, CurrentTime);
  XTestFakeKeyEvent(x_.display(), code, True, CurrentTime);
  if (add_shift) XTestFakeKeyEvent(x_.display(), shift_, False, CurrentTime);
  pressed_[keysym] = code;
}

KeyCode InputInjector::keycode_for(KeySym keysym, bool* shifted) {
  *shifted = false;
  if (auto it = bound_.find(keysym); it != bound_.end()) return it->second;
  KeyCode code = XKeysymToKeycode(x_.display(), keysym);
  if (code != 0) {
    if (XkbKeycodeToKeysym(x_.display(), code, 0, 0) == keysym) return code;
    if (XkbKeycodeToKeysym(x_.display(), code, 0, 1) == keysym) {
      *shifted = true;
      return code;
    }
    // Only on another group or level (AltGr): typed through a spare keycode instead.
  }
  return bind_spare(keysym);
}

KeyCode InputInjector::bind_spare(KeySym keysym) {
  if (spare_.empty()) return 0;
  KeyCode code = spare_[next_spare_++ % spare_.size()];
  for (auto it = bound_.begin(); it != bound_.end(); ++it) {
    if (it->second == code) {
      bound_.erase(it);  // the oldest binding makes room
      break;
    }
  }
  // Both levels, so Shift held by the operator does not change the symbol.
  KeySym both[2] = {keysym, keysym};
  XChangeKeyboardMapping(x_.display(), code, 2, both, 1);
  XSync(x_.display(), False);
  bound_[keysym] = code;
  return code;
}

}  // namespace mp::agent
