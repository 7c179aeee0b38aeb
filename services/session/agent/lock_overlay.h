// The lock screen: one override-redirect window over the whole root (following RandR size
// changes), kept above every other window, showing the operator's message, holding the
// keyboard and pointer grabs so no input reaches the desktop behind it.
#pragma once

#include <X11/Xlib.h>

#include <memory>
#include <string>
#include <string_view>

#include "mp/bus/reactor.h"
#include "painter.h"
#include "x_connection.h"

namespace mp::agent {

class LockOverlay {
 public:
  LockOverlay(XConnection& x, mp::bus::Reactor& reactor);
  ~LockOverlay();
  LockOverlay(const LockOverlay&) = delete;
  LockOverlay& operator=(const LockOverlay&) = delete;

  // Maps the overlay at once and takes the grabs (retrying every 50 ms while another client
  // holds one). Called again while locked, it only changes the message.
  void lock(std::string_view message);
  void unlock();
  bool locked() const { return locked_; }
  // While locked: takes the grabs again and checks the overlay is viewable. True if it is shown
  // and holds both grabs.
  bool confirm();

  Window window() const { return window_; }
  // Events on the overlay, and the root's structure and RandR events.
  void handle(const XEvent& event);

 private:
  bool take_grabs();
  void retry_grabs_later();
  void raise();
  void follow_root_size();
  void draw();

  XConnection& x_;
  mp::bus::Reactor& reactor_;
  Window window_ = 0;
  int width_ = 0;
  int height_ = 0;
  std::unique_ptr<Painter> painter_;
  std::string message_;
  bool locked_ = false;
  bool keyboard_grabbed_ = false;
  bool pointer_grabbed_ = false;
  mp::bus::Reactor::TimerId retry_timer_ = 0;
};

}  // namespace mp::agent
