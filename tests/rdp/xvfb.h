// A private Xvfb for a test: a free display number chosen by Xvfb itself (-displayfd, so tests
// running in parallel never collide), a MIT-MAGIC-COOKIE-1 Xauthority file, screenshots.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace mp::test {

struct Screenshot {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // 3 bytes a pixel, rows top to bottom
  struct Pixel {
    std::uint8_t r, g, b;
  };
  Pixel at(int x, int y) const {
    auto i = (static_cast<std::size_t>(y) * width + x) * 3;
    return {rgb[i], rgb[i + 1], rgb[i + 2]};
  }
  // Writes a PNG (through ImageMagick's convert) for a person to look at.
  bool save_png(const std::filesystem::path& path) const;
};

class Xvfb {
 public:
  // Starts `Xvfb -displayfd -auth COOKIE_FILE -screen 0 WxHx24 -nolisten tcp`; the cookie file
  // holds one wildcard entry, so it works for whatever display number Xvfb picks.
  // Throws std::runtime_error if Xvfb does not come up within 10 s.
  Xvfb(const std::filesystem::path& dir, int width, int height);
  ~Xvfb();
  Xvfb(const Xvfb&) = delete;
  Xvfb& operator=(const Xvfb&) = delete;

  const std::string& name() const { return name_; }  // ":N"
  const std::filesystem::path& xauthority() const { return xauthority_; }
  std::map<std::string, std::string> env() const {
    return {{"DISPLAY", name_}, {"XAUTHORITY", xauthority_.string()}};
  }
  Screenshot screenshot() const;
  // The position of the largest top-level window (e.g. xfreerdp's), or {0,0}.
  std::pair<int, int> largest_window_origin(int* width = nullptr, int* height = nullptr) const;

 private:
  pid_t pid_ = -1;
  std::string name_;
  std::filesystem::path xauthority_;
};

}  // namespace mp::test
