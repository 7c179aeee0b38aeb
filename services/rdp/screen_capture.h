// Captures what changed on a session's X display: XDamage reports damaged areas (no polling of
// the whole screen), XShm copies just those areas into a frame buffer the encoders read.
// One per peer, used on that peer's thread only.
#pragma once

#include <X11/Xlib.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>

#include <cstdint>
#include <vector>

#include "x_connection.h"

namespace mp::rdp {

struct Rect {
  int x = 0, y = 0, width = 0, height = 0;
};

class ScreenCapture {
 public:
  // Throws std::runtime_error when the display lacks DAMAGE or XFIXES, or is not 24/32-bit
  // TrueColor.
  explicit ScreenCapture(XConnection& x);
  ~ScreenCapture();
  ScreenCapture(const ScreenCapture&) = delete;
  ScreenCapture& operator=(const ScreenCapture&) = delete;

  int width() const { return width_; }
  int height() const { return height_; }
  int fd() const { return ConnectionNumber(x_.get()); }

  // Reads the X events waiting (damage notifications) without blocking.
  void process_events();
  // The client asked for these areas again (refresh, restored output, a new codec).
  void invalidate(const Rect& rect);
  void invalidate_all() { invalidate({0, 0, width_, height_}); }
  bool has_damage() const { return !pending_.empty(); }

  // Copies the pending areas from the display into frame() and returns them; pending is
  // empty afterwards. Areas are merged into at most a few rectangles.
  std::vector<Rect> grab();
  const std::uint8_t* frame() const { return frame_.data(); }  // BGRX, 4 bytes a pixel
  int stride() const { return width_ * 4; }
  bool uses_shm() const { return shm_attached_; }

 private:
  void add_pending(Rect rect);
  void copy_area(const Rect& rect);
  bool attach_shm();
  void give_segment_to_server();

  XConnection& x_;
  Window root_ = 0;
  int width_ = 0;
  int height_ = 0;
  Visual* visual_ = nullptr;
  int depth_ = 0;
  int damage_event_base_ = 0;
  Damage damage_ = 0;
  XserverRegion parts_ = 0;
  XShmSegmentInfo shm_{};
  bool shm_attached_ = false;
  std::vector<std::uint8_t> frame_;
  std::vector<Rect> pending_;
};

}  // namespace mp::rdp
