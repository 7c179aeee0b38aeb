#include "lock_overlay.h"

#include <X11/Xatom.h>
#include <X11/Xutil.h>
#include <X11/extensions/Xrandr.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "palette.h"
#include "text_layout.h"

namespace mp::agent {

namespace {

constexpr std::chrono::milliseconds kGrabRetry{50};
constexpr unsigned kPointerEvents = ButtonPressMask | ButtonReleaseMask | PointerMotionMask;

// A padlock, drawn with shapes so it needs no image or icon font.
void draw_padlock(Painter& painter, double left, double top, double height) {
  const double width = height * 0.78;
  const double shackle_height = height * 0.42;
  const double outer = width * 0.34;  // shackle radius
  const double thickness = outer * 0.34;
  const double cx = left + width / 2;
  const double arc_y = top + outer;
  const double legs_bottom = top + shackle_height + thickness;
  constexpr int kSteps = 24;
  std::vector<Point> shackle{{cx - outer, legs_bottom}};
  for (int i = 0; i <= kSteps; ++i) {  // outer edge, left to right over the top
    double a = std::numbers::pi + std::numbers::pi * i / kSteps;
    shackle.push_back({cx + outer * std::cos(a), arc_y + outer * std::sin(a)});
  }
  shackle.push_back({cx + outer, legs_bottom});
  shackle.push_back({cx + outer - thickness, legs_bottom});
  const double inner = outer - thickness;
  for (int i = 0; i <= kSteps; ++i) {  // inner edge, right to left
    double a = 2 * std::numbers::pi - std::numbers::pi * i / kSteps;
    shackle.push_back({cx + inner * std::cos(a), arc_y + inner * std::sin(a)});
  }
  shackle.push_back({cx - inner, legs_bottom});
  painter.fill_polygon(shackle, colours::kLockIcon);

  const double body_top = top + shackle_height;
  const double body_height = height - shackle_height;
  painter.fill_polygon(rounded_rectangle(left, body_top, width, body_height, width * 0.12),
                       colours::kLockIcon);
  // The keyhole: a round top and a tapering slot, in the background colour.
  const double hole = width * 0.09;
  const double hole_y = body_top + body_height * 0.42;
  std::vector<Point> keyhole;
  for (int i = 0; i < 32; ++i) {
    double a = 2 * std::numbers::pi * i / 32;
    keyhole.push_back({cx + hole * std::cos(a), hole_y + hole * std::sin(a)});
  }
  painter.fill_polygon(keyhole, colours::kLockBackground);
  painter.fill_polygon({{cx - hole * 0.55, hole_y},
                        {cx + hole * 0.55, hole_y},
                        {cx + hole * 0.85, hole_y + hole * 3},
                        {cx - hole * 0.85, hole_y + hole * 3}},
                       colours::kLockBackground);
}

}  // namespace

LockOverlay::LockOverlay(XConnection& x, mp::bus::Reactor& reactor) : x_(x), reactor_(reactor) {
  Display* d = x.display();
  x.root_size(&width_, &height_);
  XSetWindowAttributes attributes{};
  // Override-redirect: no window manager may move, decorate or stack it.
  attributes.override_redirect = True;
  // The server paints the background itself the moment the window maps: no flash of desktop.
  attributes.background_pixel = x.pixel(colours::kLockBackground);
  attributes.event_mask = ExposureMask | VisibilityChangeMask | StructureNotifyMask;
  window_ =
      XCreateWindow(d, x.root(), 0, 0, static_cast<unsigned>(width_),
                    static_cast<unsigned>(height_), 0, CopyFromParent, InputOutput, CopyFromParent,
                    CWOverrideRedirect | CWBackPixel | CWEventMask, &attributes);
  XStoreName(d, window_, "Locked");
  XClassHint class_hint{const_cast<char*>("mp-agent-lock"), const_cast<char*>("MpAgent")};
  XSetClassHint(d, window_, &class_hint);
  Atom type = x.atom("_NET_WM_WINDOW_TYPE");
  Atom type_value = x.atom("_NET_WM_WINDOW_TYPE_SPLASH");
  XChangeProperty(d, window_, type, XA_ATOM, 32, PropModeReplace,
                  reinterpret_cast<unsigned char*>(&type_value), 1);
  painter_ = std::make_unique<Painter>(x, window_);
}

LockOverlay::~LockOverlay() {
  if (retry_timer_ != 0) reactor_.cancel(retry_timer_);
  if (locked_) unlock();
  painter_.reset();
  XDestroyWindow(x_.display(), window_);
  XFlush(x_.display());
}

void LockOverlay::lock(std::string_view message) {
  bool changed = message != message_;
  message_ = std::string(message);
  if (locked_) {
    if (changed) draw();
    return;
  }
  locked_ = true;
  follow_root_size();
  XMapRaised(x_.display(), window_);
  // Override-redirect maps at once in the server, so the grabs below (processed after the map)
  // find the window viewable; draw() follows the first Expose.
  if (!take_grabs()) retry_grabs_later();
  spdlog::info("lock shown{}", keyboard_grabbed_ && pointer_grabbed_ ? " with both grabs" : "");
}

void LockOverlay::unlock() {
  if (!locked_) return;
  locked_ = false;
  if (retry_timer_ != 0) reactor_.cancel(retry_timer_);
  retry_timer_ = 0;
  XUngrabKeyboard(x_.display(), CurrentTime);
  XUngrabPointer(x_.display(), CurrentTime);
  keyboard_grabbed_ = pointer_grabbed_ = false;
  XUnmapWindow(x_.display(), window_);
  XFlush(x_.display());
  spdlog::info("lock removed");
}

bool LockOverlay::take_grabs() {
  Display* d = x_.display();
  // Grabbing again what this client already holds succeeds and changes nothing, so this is
  // also how confirm() checks the grabs are still ours.
  int keyboard = XGrabKeyboard(d, window_, False, GrabModeAsync, GrabModeAsync, CurrentTime);
  int pointer = XGrabPointer(d, window_, False, kPointerEvents, GrabModeAsync, GrabModeAsync,
                             window_, None, CurrentTime);
  bool had_both = keyboard_grabbed_ && pointer_grabbed_;
  keyboard_grabbed_ = keyboard == GrabSuccess;
  pointer_grabbed_ = pointer == GrabSuccess;
  if (!keyboard_grabbed_ || !pointer_grabbed_) {
    if (had_both) spdlog::warn("the lock lost its grabs; taking them again");
    spdlog::debug("grabs: keyboard {}, pointer {}", keyboard, pointer);
  }
  return keyboard_grabbed_ && pointer_grabbed_;
}

void LockOverlay::retry_grabs_later() {
  if (retry_timer_ != 0) return;
  retry_timer_ = reactor_.every(kGrabRetry, [this] {
    if (!locked_) return;
    raise();
    if (take_grabs()) {
      spdlog::info("lock holds both grabs");
      reactor_.cancel(retry_timer_);
      retry_timer_ = 0;
    }
  });
}

bool LockOverlay::confirm() {
  if (!locked_) return false;
  if (!take_grabs()) retry_grabs_later();
  XWindowAttributes attributes;
  bool viewable = XGetWindowAttributes(x_.display(), window_, &attributes) &&
                  attributes.map_state == IsViewable;
  if (!viewable) XMapRaised(x_.display(), window_);
  return viewable && keyboard_grabbed_ && pointer_grabbed_;
}

void LockOverlay::raise() { XRaiseWindow(x_.display(), window_); }

void LockOverlay::follow_root_size() {
  int width = 0, height = 0;
  x_.root_size(&width, &height);
  if (width == width_ && height == height_) return;
  width_ = width;
  height_ = height;
  XMoveResizeWindow(x_.display(), window_, 0, 0, static_cast<unsigned>(width),
                    static_cast<unsigned>(height));
  spdlog::info("display is now {}x{}", width, height);
}

void LockOverlay::handle(const XEvent& event) {
  const int randr_base = x_.randr_event_base();
  if (randr_base >= 0 && event.type == randr_base + RRScreenChangeNotify) {
    XRRUpdateConfiguration(const_cast<XEvent*>(&event));
    follow_root_size();
    return;
  }
  switch (event.type) {
    case Expose:
      if (event.xexpose.window == window_ && event.xexpose.count == 0 && locked_) draw();
      break;
    case VisibilityNotify:
      // Something covers part of the lock: put it back on top.
      if (locked_ && event.xvisibility.state != VisibilityUnobscured) raise();
      break;
    case MapNotify:
      if (locked_ && event.xmap.window != window_) raise();
      break;
    case ConfigureNotify:
      if (event.xconfigure.window == x_.root()) {
        follow_root_size();
      } else if (locked_ && event.xconfigure.window != window_) {
        raise();  // another window restacked; the lock stays above it
      }
      break;
    case UnmapNotify:
      if (locked_ && event.xunmap.window == window_) {
        // Someone unmapped the overlay (its grabs went with it): back at once.
        spdlog::warn("the lock was unmapped by another client; showing it again");
        keyboard_grabbed_ = pointer_grabbed_ = false;
        XMapRaised(x_.display(), window_);
        if (!take_grabs()) retry_grabs_later();
      }
      break;
    default:
      break;
  }
}

void LockOverlay::draw() {
  const int w = width_;
  const int h = height_;
  const int max_width = static_cast<int>(w * lock_layout::kMaxWidthShare);
  const int max_height = static_cast<int>(h * lock_layout::kMaxHeightShare);
  const bool has_message = !message_.empty();
  const std::string main_text = has_message ? message_ : "This station is locked";
  const std::string subtitle =
      has_message ? "This station is locked by your teacher." : "Please wait for your teacher.";

  Font small(x_, std::clamp(h / 30, 14, 44), /*bold=*/false);
  // The message as large as fits: start big, shrink until the whole block fits the area.
  int size = std::clamp(h / 13, 18, 120);
  std::unique_ptr<Font> large;
  std::vector<std::string> lines;
  int icon = 0, gap = 0, block = 0;
  while (true) {
    large = std::make_unique<Font>(x_, size, /*bold=*/true);
    lines = wrap_text(main_text, max_width,
                      [&large](std::string_view text) { return large->width(text); });
    icon = std::min(size * 3 / 2, h / 6);
    gap = size * 2 / 3;
    block = icon + gap + static_cast<int>(lines.size()) * large->line_height() + gap / 2 +
            small.line_height();
    if (block <= max_height || size <= 14) break;
    size = std::max(14, size * 7 / 8);
  }

  XClearWindow(x_.display(), window_);
  int y = (h - block) / 2;
  draw_padlock(*painter_, (w - icon * 0.78) / 2, y, icon);
  y += icon + gap;
  // Lines past the area (only at the smallest size) are not drawn rather than overflowing.
  const int bottom = (h + max_height) / 2 - small.line_height() - gap / 2;
  for (const auto& line : lines) {
    if (y + large->line_height() > bottom) break;
    painter_->text_centred(*large, w / 2, y + large->ascent(), colours::kLockText, line);
    y += large->line_height();
  }
  y += gap / 2;
  painter_->text_centred(small, w / 2, y + small.ascent(), colours::kLockSubtitle, subtitle);
  XFlush(x_.display());
}

}  // namespace mp::agent
