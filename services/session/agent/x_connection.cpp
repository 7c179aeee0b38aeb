#include "x_connection.h"

#include <X11/Xlocale.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xrandr.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <bit>
#include <stdexcept>

namespace mp::agent {

namespace {

// Protocol errors (a window that went away between two requests, a grab refused) are the
// display telling us something; logged, not fatal.
int log_protocol_error(Display* display, XErrorEvent* error) {
  char text[256] = {};
  XGetErrorText(display, error->error_code, text, sizeof text);
  spdlog::warn("X error: {} (request {}.{}, resource 0x{:x})", text, error->request_code,
               error->minor_code, error->resourceid);
  return 0;
}

// Xlib calls this when the connection is gone and does not let the program go on; the exit
// status tells mp-session the display was lost.
int exit_on_lost_display(Display*) {
  spdlog::critical("the X display connection is lost; exiting");
  spdlog::default_logger()->flush();
  _exit(kExitDisplayLost);
}

// Shifts an 8-bit channel into a TrueColor mask.
unsigned long channel(std::uint8_t value, unsigned long mask) {
  if (mask == 0) return 0;
  int shift = std::countr_zero(mask);
  int bits = std::popcount(mask);
  unsigned long scaled = bits >= 8 ? (unsigned long)value << (bits - 8) : value >> (8 - bits);
  return (scaled << shift) & mask;
}

}  // namespace

XConnection::XConnection() {
  XSetErrorHandler(log_protocol_error);
  XSetIOErrorHandler(exit_on_lost_display);
  display_ = XOpenDisplay(nullptr);
  if (display_ == nullptr) {
    const char* name = getenv("DISPLAY");
    throw std::runtime_error(std::string("cannot open the X display '") + (name ? name : "") + "'");
  }
  screen_ = DefaultScreen(display_);
  root_ = RootWindow(display_, screen_);
  int error_base = 0;
  if (!XRRQueryExtension(display_, &randr_event_base_, &error_base)) randr_event_base_ = -1;
  // An input method makes typed text follow the user's layout and compose keys; without one
  // (no locale support) keys are read as Latin-1.
  if (XSupportsLocale()) {
    XSetLocaleModifiers("");
    input_method_ = XOpenIM(display_, nullptr, nullptr, nullptr);
    if (input_method_ == nullptr) {
      XSetLocaleModifiers("@im=none");
      input_method_ = XOpenIM(display_, nullptr, nullptr, nullptr);
    }
  }
  if (input_method_ == nullptr) spdlog::info("no X input method: keys are read as Latin-1");
}

XConnection::~XConnection() {
  if (input_method_ != nullptr) XCloseIM(input_method_);
  XCloseDisplay(display_);
}

Atom XConnection::atom(const char* name) {
  auto it = atoms_.find(name);
  if (it != atoms_.end()) return it->second;
  Atom value = XInternAtom(display_, name, False);
  atoms_.emplace(name, value);
  return value;
}

unsigned long XConnection::pixel(Rgb colour) {
  Visual* v = visual();
  if (v->c_class == TrueColor) {
    return channel(colour.r, v->red_mask) | channel(colour.g, v->green_mask) |
           channel(colour.b, v->blue_mask);
  }
  auto it = allocated_.find(colour);
  if (it != allocated_.end()) return it->second;
  XColor xcolour{};
  xcolour.red = colour.r * 257;
  xcolour.green = colour.g * 257;
  xcolour.blue = colour.b * 257;
  unsigned long value =
      XAllocColor(display_, colormap(), &xcolour)
          ? xcolour.pixel
          : (colour.r + colour.g + colour.b > 384 ? WhitePixel(display_, screen_)
                                                  : BlackPixel(display_, screen_));
  allocated_.emplace(colour, value);
  return value;
}

void XConnection::root_size(int* width, int* height) const {
  Window root;
  int x, y;
  unsigned w, h, border, depth;
  if (XGetGeometry(display_, root_, &root, &x, &y, &w, &h, &border, &depth)) {
    *width = static_cast<int>(w);
    *height = static_cast<int>(h);
  } else {
    *width = DisplayWidth(display_, screen_);
    *height = DisplayHeight(display_, screen_);
  }
}

}  // namespace mp::agent
