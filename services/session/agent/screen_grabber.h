// Grabs the session's whole screen for thumbnails, only while a thumbnail stream is leased:
// MIT-SHM into one shared segment kept between grabs (the X server copies the screen into it;
// nothing crosses the socket), else XGetImage. Measured (bench/dashboard, 1024x768, perf):
// XGetImage cost the agent 25 ms a picture — the 3 MB copied through the socket into freshly
// faulted pages — which is why shared memory is the first choice. With XDamage (every X server
// here has it) only the rows that changed since the last grab are copied into the segment, and a
// screen that did not change is not read at all: the segment keeps the last picture, and
// ScreenImage::version says whether it is new. Takes the 32-bit TrueColor
// layout every X server here uses (Xvfb, Xorg at depth 24/32); another layout is refused once
// with a clear log line rather than shown garbled.
#pragma once

#include <X11/Xlib.h>
#include <X11/extensions/XShm.h>
#include <X11/extensions/Xdamage.h>
#include <X11/extensions/Xfixes.h>

#include <cstdint>

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
  // Starts tracking damage; false if the display cannot (then every grab is a whole screen).
  bool watch_damage();
  // Copies the rows that changed since the last grab into the segment; false if that failed.
  bool grab_changed_rows(int height);
  bool grab_rows(int top, int rows);

  XConnection& x_;
  XImage* image_ = nullptr;  // XGetImage's, freed at the next grab
  XImage* shared_image_ = nullptr;
  XShmSegmentInfo segment_{};
  bool shared_failed_ = false;
  bool shared_fresh_ = false;  // the segment holds no picture yet
  bool format_refused_ = false;
  Damage damage_ = 0;
  XserverRegion changed_ = 0;
  bool damage_failed_ = false;
  std::uint64_t version_ = 0;
  ChangedRows changes_;
};

}  // namespace mp::agent
