// The lock picture a transport shows on a blocked station: drawn by the transport itself into
// its own frame buffer, never by the session, so nothing the session's user runs can remove or
// cover it. A padlock, "This station is locked" and the teacher's message, centred, on a plain
// background, at any screen size. FreeType renders the text (DejaVu Sans, with fontconfig's
// fallbacks for characters it lacks).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mp::lockscreen {

// A picture in the transports' frame format: BGRX, 4 bytes a pixel, `width * 4` bytes a row.
struct Picture {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;
  std::uint32_t pixel(int x, int y) const;  // 0x00RRGGBB, for tests
};

// What the lock says. The message comes from an operator: any UTF-8 (invalid bytes are shown
// as U+FFFD), cut to what fits the screen.
struct LockText {
  std::string title = "This station is locked";
  std::string message;
  std::string footer = "Your teacher locked this screen. It unlocks when they say so.";
};

class LockPainter {
 public:
  // Loads the fonts; throws std::runtime_error when no usable font is installed.
  LockPainter();
  ~LockPainter();
  LockPainter(const LockPainter&) = delete;
  LockPainter& operator=(const LockPainter&) = delete;

  // Any thread (one painting at a time). Sizes are clamped to 1..8192. The last few pictures
  // are kept: a whole class blocked at once, all at one screen size, costs one painting.
  std::shared_ptr<const Picture> paint(int width, int height, const LockText& text);

  struct Fonts;  // FreeType's library and faces (defined in the .cpp)

 private:
  Picture draw(int width, int height, const LockText& text);

  struct Painted {
    int width, height;
    std::string title, message, footer;
    std::shared_ptr<const Picture> picture;
  };
  static constexpr std::size_t kKept = 4;
  std::mutex mutex_;
  std::unique_ptr<Fonts> fonts_;
  std::vector<Painted> kept_;  // most recent last
};

// UTF-8 to code points; malformed sequences become U+FFFD, control characters are dropped.
std::vector<char32_t> decode_utf8(std::string_view text);

}  // namespace mp::lockscreen
