// Grabs the session's whole screen for thumbnails, only while a thumbnail stream is leased:
// MIT-SHM into one shared segment kept between grabs (the X server copies the screen into it;
// nothing crosses the socket), else XGetImage. Measured (bench/dashboard, 1024x768, perf):
// XGetImage cost the agent 25 ms a picture — the 3 MB copied through the socket into freshly
// faulted pages — which is why shared memory is the first choice. Takes the 32-bit TrueColor
// layout every X server here uses (Xvfb, Xorg at depth 24/32); another layout is refused once
// with a clear log line rather than shown garbled.
#pragma once

#include <X11/Xlib.h>
#include <X11/extensions/XShm.h>

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
  // A shared segment of the screen's size (made again when the size changes); false if the
  // display cannot share memory with us (then XGetImage).
  bool ensure_shared(int width, int height);
  void release_shared();
  bool usable(const XImage* image);

  XConnection& x_;
  XImage* image_ = nullptr;  // XGetImage's, freed at the next grab
  XImage* shared_image_ = nullptr;
  XShmSegmentInfo segment_{};
  bool shared_failed_ = false;
  bool format_refused_ = false;
};

}  // namespace mp::agent
