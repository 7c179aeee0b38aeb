// The agent's colours and dialog geometry, in one place so tests can find what they look for
// (the lock colour in a screenshot, the Send button of a message window).
#pragma once

#include "x_connection.h"

namespace mp::agent {

namespace colours {
// Lock screen: white text on a deep blue reads well on a washed-out classroom projector.
inline constexpr Rgb kLockBackground{0x0F, 0x2A, 0x47};
inline constexpr Rgb kLockText{0xFF, 0xFF, 0xFF};
inline constexpr Rgb kLockSubtitle{0xA8, 0xC0, 0xDA};
inline constexpr Rgb kLockIcon{0xF2, 0xB7, 0x05};

// Dialogs.
inline constexpr Rgb kAccent{0x1B, 0x5F, 0xA8};
inline constexpr Rgb kAccentPressed{0x13, 0x45, 0x7C};
inline constexpr Rgb kOnAccent{0xFF, 0xFF, 0xFF};
inline constexpr Rgb kWindow{0xFF, 0xFF, 0xFF};
inline constexpr Rgb kText{0x1D, 0x23, 0x2B};
inline constexpr Rgb kMuted{0x5A, 0x66, 0x75};
inline constexpr Rgb kFieldBorder{0x9A, 0xA5, 0xB3};
inline constexpr Rgb kFieldBackground{0xF7, 0xF9, 0xFB};
inline constexpr Rgb kSecondaryButton{0xE4, 0xE9, 0xEF};
inline constexpr Rgb kSecondaryPressed{0xCC, 0xD4, 0xDE};
}  // namespace colours

// Lock screen layout: the message and its decoration stay inside the central area, so
// everything outside it is the lock colour.
namespace lock_layout {
inline constexpr double kMaxWidthShare = 0.8;   // of the screen width
inline constexpr double kMaxHeightShare = 0.7;  // of the screen height
}  // namespace lock_layout

// Dialog geometry. The controls are anchored to the bottom right of the window, so their
// places follow from the window's size alone.
namespace dialog_layout {
inline constexpr int kWidth = 640;
inline constexpr int kPadding = 28;
inline constexpr int kHeaderHeight = 64;
inline constexpr int kButtonWidth = 132;
inline constexpr int kButtonHeight = 46;
inline constexpr int kButtonGap = 14;
inline constexpr int kFieldHeight = 48;
inline constexpr int kFieldToButtons = 22;

struct Rect {
  int x, y, width, height;
  bool contains(int px, int py) const {
    return px >= x && py >= y && px < x + width && py < y + height;
  }
  int center_x() const { return x + width / 2; }
  int center_y() const { return y + height / 2; }
};

// Buttons from the right: 0 is the rightmost (the default action).
inline Rect button(int index, int window_width, int window_height) {
  return Rect{window_width - kPadding - (index + 1) * kButtonWidth - index * kButtonGap,
              window_height - kPadding - kButtonHeight, kButtonWidth, kButtonHeight};
}
inline Rect answer_field(int window_width, int window_height) {
  return Rect{kPadding, window_height - kPadding - kButtonHeight - kFieldToButtons - kFieldHeight,
              window_width - 2 * kPadding, kFieldHeight};
}
}  // namespace dialog_layout

}  // namespace mp::agent
