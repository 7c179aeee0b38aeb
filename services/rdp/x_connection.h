// A connection to a session's X display, opened with the cookie from the session's Xauthority
// file. Many peer threads open displays at once, so nothing goes through the process
// environment (XAUTHORITY): the cookie is read here and handed to Xlib under a lock.
#pragma once

#include <X11/Xlib.h>

#include <atomic>
#include <string>

namespace mp::rdp {

// Once, in main(), before any thread opens a display: makes Xlib thread-safe and replaces its
// error handlers, whose defaults exit the process. A protocol error is logged and recorded for
// the thread that caused it; a lost connection marks only that XConnection broken.
void install_x_error_handlers();

// The last X protocol error code seen on this thread (0: none); reading clears it.
int take_x_error();

class XConnection {
 public:
  // Throws std::runtime_error with the reason (bad display name, unreadable Xauthority,
  // refused connection).
  XConnection(const std::string& display_name, const std::string& xauthority);
  ~XConnection();
  XConnection(const XConnection&) = delete;
  XConnection& operator=(const XConnection&) = delete;

  Display* get() const { return display_; }
  // The server went away (or the connection broke); only destruction is left to do.
  bool broken() const { return broken_.load(); }
  const std::string& name() const { return name_; }

 private:
  static void on_io_error_exit(Display* display, void* self);

  Display* display_ = nullptr;
  std::string name_;
  std::atomic<bool> broken_{false};
};

}  // namespace mp::rdp
