// RDP keyboard scancodes (PC/AT set 1, plus the E0 "extended" flag) to X keycodes of an X server
// using the evdev keycode set (Xvfb's and Xorg's default: keycode = Linux KEY_* + 8). The
// scancode names a key position; the session's keymap decides the character, as on a PC.
#pragma once

#include <cstdint>

namespace mp::rdp {

// 0 when the key has no X keycode.
std::uint8_t x_keycode_for_scancode(std::uint16_t scancode, bool extended);

}  // namespace mp::rdp
