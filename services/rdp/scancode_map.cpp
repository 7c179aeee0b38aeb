#include "scancode_map.h"

namespace mp::rdp {

namespace {

constexpr int kEvdevOffset = 8;

// Linux KEY_* codes of E0-prefixed scancodes (the others equal their scancode).
int extended_linux_key(std::uint16_t scancode) {
  switch (scancode) {
    case 0x1C:
      return 96;  // KEY_KPENTER
    case 0x1D:
      return 97;  // KEY_RIGHTCTRL
    case 0x35:
      return 98;  // KEY_KPSLASH
    case 0x37:
      return 99;  // KEY_SYSRQ (Print Screen)
    case 0x38:
      return 100;  // KEY_RIGHTALT (AltGr)
    case 0x46:
      return 119;  // KEY_PAUSE (Ctrl+Break)
    case 0x47:
      return 102;  // KEY_HOME
    case 0x48:
      return 103;  // KEY_UP
    case 0x49:
      return 104;  // KEY_PAGEUP
    case 0x4B:
      return 105;  // KEY_LEFT
    case 0x4D:
      return 106;  // KEY_RIGHT
    case 0x4F:
      return 107;  // KEY_END
    case 0x50:
      return 108;  // KEY_DOWN
    case 0x51:
      return 109;  // KEY_PAGEDOWN
    case 0x52:
      return 110;  // KEY_INSERT
    case 0x53:
      return 111;  // KEY_DELETE
    case 0x5B:
      return 125;  // KEY_LEFTMETA
    case 0x5C:
      return 126;  // KEY_RIGHTMETA
    case 0x5D:
      return 127;  // KEY_COMPOSE (Menu)
    default:
      return 0;
  }
}

// Set-1 scancodes above 0x58 that are not extended.
int high_linux_key(std::uint16_t scancode) {
  switch (scancode) {
    case 0x70:
      return 93;  // KEY_KATAKANAHIRAGANA
    case 0x73:
      return 89;  // KEY_RO
    case 0x79:
      return 92;  // KEY_HENKAN
    case 0x7B:
      return 94;  // KEY_MUHENKAN
    case 0x7D:
      return 124;  // KEY_YEN
    default:
      return 0;
  }
}

}  // namespace

std::uint8_t x_keycode_for_scancode(std::uint16_t scancode, bool extended) {
  int key = 0;
  if (extended) {
    key = extended_linux_key(scancode);
  } else if (scancode >= 0x01 && scancode <= 0x58) {
    key = scancode;  // Escape..F12: Linux key codes were laid out after set 1
  } else {
    key = high_linux_key(scancode);
  }
  return key == 0 ? 0 : static_cast<std::uint8_t>(key + kEvdevOffset);
}

}  // namespace mp::rdp
