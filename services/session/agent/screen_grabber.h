// Grabs the session's whole screen for thumbnails: XGetImage of the root window, taken only
// while a thumbnail stream is leased (about 3 ms for 1024x768 on this machine kind, once a
// second). Takes the 32-bit TrueColor layout every X server here uses (Xvfb, Xorg at depth
// 24/32); another layout is refused once with a clear log line rather than shown garbled.
#pragma once

#include <X11/Xlib.h>

#include "thumbnail_encoder.h"
#include "x_connection.h"

namespace mp::agent {

class ScreenGrabber {
 public:
  explicit ScreenGrabber(XConnection& x) : x_(x) {}
  ~ScreenGrabber();
  ScreenGrabber(const ScreenGrabber&) = delete;
  ScreenGrabber& operator=(const ScreenGrabber&) = delete;

  // The screen as it is now; the pixels stay valid until the next grab. False if it cannot be
  // had (logged).
  bool grab(ScreenImage* out);

 private:
  XConnection& x_;
  XImage* image_ = nullptr;
  bool format_refused_ = false;
};

}  // namespace mp::agent
