#include "workload.h"

#include <X11/Xutil.h>
#include <X11/keysym.h>
#include <poll.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>

#include "test_pattern.h"

namespace mp::workload {

namespace {

constexpr int kBoxSize = 256;

int shift_of(unsigned long mask) {
  int shift = 0;
  while (mask != 0 && (mask & 1) == 0) {
    mask >>= 1;
    ++shift;
  }
  return shift;
}

}  // namespace

Workload::Workload(const std::string& display_name, WorkloadOptions options) : options_(options) {
  display_ = XOpenDisplay(display_name.empty() ? nullptr : display_name.c_str());
  if (display_ == nullptr) throw std::runtime_error("cannot open display '" + display_name + "'");
  int screen = DefaultScreen(display_);
  visual_ = DefaultVisual(display_, screen);
  depth_ = DefaultDepth(display_, screen);
  if (visual_->c_class != TrueColor || depth_ < 24) {
    throw std::runtime_error("needs a 24-bit TrueColor visual");
  }
  width_ = DisplayWidth(display_, screen);
  height_ = DisplayHeight(display_, screen);

  // Override-redirect: there is no window manager on a test display, and none may move us.
  XSetWindowAttributes attributes{};
  attributes.override_redirect = True;
  attributes.background_pixel = BlackPixel(display_, screen);
  attributes.event_mask = ExposureMask | KeyPressMask | KeyReleaseMask | ButtonPressMask |
                          ButtonReleaseMask | StructureNotifyMask;
  window_ = XCreateWindow(display_, RootWindow(display_, screen), 0, 0, width_, height_, 0, depth_,
                          InputOutput, visual_, CWOverrideRedirect | CWBackPixel | CWEventMask,
                          &attributes);
  XStoreName(display_, window_, "mp-workload");
  gc_ = XCreateGC(display_, window_, 0, nullptr);
  // Echoed text large enough to read in a screenshot; the server's default font otherwise.
  if (XFontStruct* font = XLoadQueryFont(display_, "10x20"); font != nullptr) {
    XSetFont(display_, gc_, font->fid);
    XFreeFontInfo(nullptr, font, 0);
  }
  XMapRaised(display_, window_);
  if (options_.mode == WorkloadOptions::Mode::box) {
    make_texture();
    if (options_.react_key) {
      box_y_ = kReactionBand;
      if (width_ < kBoxSize || height_ < kReactionBand + kBoxSize) {
        throw std::runtime_error("the screen is too small for --react-key");
      }
    }
  }
  XSync(display_, False);
}

Workload::~Workload() {
  if (texture_image_ != nullptr) {
    texture_image_->data = nullptr;  // the vector owns the pixels
    XDestroyImage(texture_image_);
  }
  if (gc_ != nullptr) XFreeGC(display_, gc_);
  if (display_ != nullptr) XCloseDisplay(display_);
}

unsigned long Workload::pixel(std::uint8_t r, std::uint8_t g, std::uint8_t b) const {
  return (static_cast<unsigned long>(r) << shift_of(visual_->red_mask)) |
         (static_cast<unsigned long>(g) << shift_of(visual_->green_mask)) |
         (static_cast<unsigned long>(b) << shift_of(visual_->blue_mask));
}

void Workload::fill(int x, int y, int w, int h, unsigned long color) {
  XSetForeground(display_, gc_, color);
  XFillRectangle(display_, window_, gc_, x, y, static_cast<unsigned>(w), static_cast<unsigned>(h));
}

void Workload::draw_pattern() {
  // Drawn from the same function the tests check against, region by region.
  auto color = [&](Rgb c) { return pixel(c.r, c.g, c.b); };
  int half_w = width_ / 2, half_h = height_ / 2;
  fill(0, 0, half_w, half_h, color(kTopLeft));
  fill(half_w, 0, width_ - half_w, half_h, color(kTopRight));
  fill(0, half_h, half_w, height_ - half_h, color(kBottomLeft));
  fill(half_w, half_h, width_ - half_w, height_ - half_h, color(kBottomRight));
  auto m = marker_rect(width_, height_);
  fill(m.x, m.y, m.size, m.size, color(kMarker));
  if (options_.react_key) draw_reaction_square();
  if (options_.ticker) draw_ticker();
  if (options_.echo_keys) draw_echo();
  XFlush(display_);
}

void Workload::draw_ticker() {
  auto bar = ticker_bar(width_, height_);
  int filled = bar.width * (ticks_ % (kTickerSteps + 1)) / kTickerSteps;
  fill(bar.x, bar.baseline, filled, bar.height, pixel(96, 96, 96));
  fill(bar.x + filled, bar.baseline, bar.width - filled, bar.height, pixel(224, 224, 224));
}

void Workload::draw_echo() {
  auto line = echo_line(width_, height_);
  fill(line.x, line.baseline - line.height + 6, line.width, line.height, pixel(255, 255, 255));
  XSetForeground(display_, gc_, pixel(0, 0, 0));
  XDrawString(display_, window_, gc_, line.x, line.baseline, echoed_.data(),
              static_cast<int>(echoed_.size()));
}

void Workload::echo_key(XKeyEvent& key) {
  char text[16];
  KeySym keysym = 0;
  int n = XLookupString(&key, text, sizeof text, &keysym, nullptr);
  if (keysym == XK_BackSpace) {
    if (!echoed_.empty()) echoed_.pop_back();
  } else {
    for (int i = 0; i < n; ++i) {
      if (static_cast<unsigned char>(text[i]) >= 0x20 && echoed_.size() < 80) {
        echoed_.push_back(text[i]);
      }
    }
  }
  draw_echo();
  XFlush(display_);
}

void Workload::draw_reaction_square() {
  std::uint8_t v = reaction_white_ ? 255 : 0;
  fill(kReactionSquare.x, kReactionSquare.y, kReactionSquare.size, kReactionSquare.size,
       pixel(v, v, v));
}

void Workload::make_texture() {
  texture_.assign(kBoxSize * kBoxSize, 0);
  texture_image_ =
      XCreateImage(display_, visual_, static_cast<unsigned>(depth_), ZPixmap, 0,
                   reinterpret_cast<char*>(texture_.data()), kBoxSize, kBoxSize, 32, kBoxSize * 4);
  if (texture_image_ == nullptr) throw std::runtime_error("XCreateImage failed");
}

void Workload::draw_box_frame() {
  // Erase where the box was, move it (bouncing off the edges), redraw a new texture there.
  unsigned long background = pixel(64, 64, 64);
  if (frame_ == 0) {
    fill(0, 0, width_, height_, background);
    if (options_.react_key) draw_reaction_square();
  }
  fill(box_x_, box_y_, kBoxSize, kBoxSize, background);
  int top = options_.react_key ? kReactionBand : 0;
  box_x_ += box_dx_;
  box_y_ += box_dy_;
  if (box_x_ < 0 || box_x_ + kBoxSize > width_) {
    box_dx_ = -box_dx_;
    box_x_ += 2 * box_dx_;
  }
  if (box_y_ < top || box_y_ + kBoxSize > height_) {
    box_dy_ = -box_dy_;
    box_y_ += 2 * box_dy_;
  }
  if (box_x_ < 0) box_x_ = 0;
  if (box_y_ < top) box_y_ = top;
  for (int y = 0; y < kBoxSize; ++y) {
    for (int x = 0; x < kBoxSize; ++x) {
      auto r = static_cast<std::uint8_t>(x ^ y);
      auto g = static_cast<std::uint8_t>((x + static_cast<int>(frame_) * 4) & 0xff);
      auto b = static_cast<std::uint8_t>(((y / 16 + x / 16) % 2) ? 220 : 30);
      texture_[static_cast<std::size_t>(y) * kBoxSize + x] =
          static_cast<std::uint32_t>(pixel(r, g, b));
    }
  }
  XPutImage(display_, window_, gc_, texture_image_, 0, 0, box_x_, box_y_, kBoxSize, kBoxSize);
  XFlush(display_);
  ++frame_;
}

void Workload::handle(XEvent& event) {
  switch (event.type) {
    case Expose:
      if (options_.mode == WorkloadOptions::Mode::pattern && event.xexpose.count == 0) {
        draw_pattern();
      }
      break;
    case KeyPress:
    case KeyRelease: {
      if (event.type == KeyPress && options_.echo_keys) echo_key(event.xkey);
      if (event.type == KeyPress && options_.react_key) {
        reaction_white_ = !reaction_white_;
        draw_reaction_square();
        XFlush(display_);
      }
      if (!options_.print_input) break;
      KeySym keysym = XLookupKeysym(&event.xkey, 0);
      const char* name = XKeysymToString(keysym);
      std::printf("key %s %s keycode=%u\n", event.type == KeyPress ? "press" : "release",
                  name ? name : "?", event.xkey.keycode);
      std::fflush(stdout);
      break;
    }
    case ButtonPress:
    case ButtonRelease:
      if (!options_.print_input) break;
      std::printf("button %s %u at %d,%d\n", event.type == ButtonPress ? "press" : "release",
                  event.xbutton.button, event.xbutton.x, event.xbutton.y);
      std::fflush(stdout);
      break;
    default:
      break;
  }
}

int Workload::run() {
  using Clock = std::chrono::steady_clock;
  // Key events go to the focused window; with no window manager, take the focus ourselves.
  XSetInputFocus(display_, window_, RevertToParent, CurrentTime);
  if (options_.mode == WorkloadOptions::Mode::pattern) draw_pattern();
  std::printf("ready %dx%d\n", width_, height_);
  std::fflush(stdout);
  auto start = Clock::now();
  auto period = std::chrono::microseconds(1000000 / (options_.fps > 0 ? options_.fps : 30));
  auto next_frame = start;
  while (true) {
    auto now = Clock::now();
    if (options_.seconds > 0 && now - start >= std::chrono::duration<double>(options_.seconds)) {
      return 0;
    }
    while (XPending(display_) > 0) {
      XEvent event;
      XNextEvent(display_, &event);
      handle(event);
    }
    int timeout_ms = 500;
    if (options_.mode == WorkloadOptions::Mode::pattern && options_.ticker) {
      if (now >= next_frame) {
        ++ticks_;
        draw_ticker();
        XFlush(display_);
        next_frame += std::chrono::milliseconds(250);
        if (next_frame < now) next_frame = now + std::chrono::milliseconds(250);
      }
      timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next_frame - Clock::now()).count());
      if (timeout_ms < 0) timeout_ms = 0;
    } else if (options_.mode == WorkloadOptions::Mode::box) {
      if (now >= next_frame) {
        draw_box_frame();
        next_frame += period;
        if (next_frame < now) next_frame = now + period;  // fell behind: do not burst
      }
      timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(next_frame - Clock::now()).count());
      if (timeout_ms < 0) timeout_ms = 0;
    }
    pollfd fd{ConnectionNumber(display_), POLLIN, 0};
    if (poll(&fd, 1, timeout_ms) < 0 && errno != EINTR) return 1;
    if (fd.revents & (POLLHUP | POLLERR)) return 1;  // the display went away
  }
}

}  // namespace mp::workload
