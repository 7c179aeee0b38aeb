#include "xvfb_display.h"

#include <X11/XKBlib.h>
#include <X11/Xutil.h>
#include <X11/extensions/XTest.h>
#include <X11/keysym.h>
#include <png.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <random>
#include <stdexcept>
#include <thread>

namespace mp::test {

namespace {

std::string random_cookie() {
  std::random_device device;
  std::string hex;
  for (int i = 0; i < 16; ++i) {
    char byte[3];
    std::snprintf(byte, sizeof byte, "%02x", device() & 0xFF);
    hex += byte;
  }
  return hex;
}

// Windows of the agent come and go while the test looks at them: a request about one that just
// went is an answer, not a reason to end the test process (Xlib's default).
int ignore_protocol_error(Display*, XErrorEvent*) { return 0; }

bool display_in_use(int number) {
  return std::filesystem::exists("/tmp/.X" + std::to_string(number) + "-lock") ||
         std::filesystem::exists("/tmp/.X11-unix/X" + std::to_string(number));
}

}  // namespace

Screenshot Screenshot::crop(int x, int y, int w, int h) const {
  Screenshot out{w, h, {}};
  out.pixels.reserve(std::size_t(w) * h);
  for (int row = y; row < y + h; ++row) {
    for (int col = x; col < x + w; ++col) out.pixels.push_back(at(col, row));
  }
  return out;
}

std::size_t Screenshot::count(std::uint32_t rgb, int x, int y, int w, int h) const {
  std::size_t n = 0;
  for (int row = y; row < y + h; ++row) {
    for (int col = x; col < x + w; ++col) n += at(col, row) == rgb;
  }
  return n;
}

void Screenshot::save_png(const std::filesystem::path& path) const {
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path.string());
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    std::fclose(file);
    throw std::runtime_error("libpng failed on " + path.string());
  }
  png_init_io(png, file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  std::vector<png_byte> row(std::size_t(width) * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      std::uint32_t p = at(x, y);
      row[std::size_t(x) * 3] = static_cast<png_byte>(p >> 16);
      row[std::size_t(x) * 3 + 1] = static_cast<png_byte>(p >> 8);
      row[std::size_t(x) * 3 + 2] = static_cast<png_byte>(p);
    }
    png_write_row(png, row.data());
  }
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  std::fclose(file);
}

XvfbDisplay::XvfbDisplay(int width, int height) {
  const auto auth = dir_ / "xauthority";
  const std::string cookie = random_cookie();
  XSetErrorHandler(ignore_protocol_error);
  const std::string screen = std::to_string(width) + "x" + std::to_string(height) + "x24";
  // Display numbers from the pid keep parallel test processes apart; a number taken by
  // something else is skipped.
  int number = 200 + static_cast<int>(getpid() % 8000);
  for (int attempt = 0; attempt < 20 && display_ == nullptr; ++attempt, ++number) {
    if (display_in_use(number)) continue;
    const std::string name = ":" + std::to_string(number);
    auto added = run("/usr/bin/xauth", {"-q", "-f", auth.string(), "add", name, ".", cookie});
    if (added.exit_code != 0) throw std::runtime_error("xauth: " + added.output);
    server_ = std::make_unique<ChildProcess>(
        "/usr/bin/Xvfb",
        std::vector<std::string>{name, "-auth", auth.string(), "-screen", "0", screen, "-nolisten",
                                 "tcp", "-noreset"},
        ChildProcess::Options{.output_file = dir_ / ("xvfb" + name.substr(1) + ".log")});
    setenv("XAUTHORITY", auth.c_str(), 1);
    eventually(
        [&] {
          if (!server_->running()) return true;  // lost a race for the number: next one
          display_ = XOpenDisplay(name.c_str());
          return display_ != nullptr;
        },
        std::chrono::seconds(10));
    if (display_ != nullptr) number_ = number;
  }
  if (display_ == nullptr) throw std::runtime_error("no Xvfb came up");
}

XvfbDisplay::~XvfbDisplay() {
  if (display_ != nullptr && server_ && server_->running()) XCloseDisplay(display_);
  server_.reset();
}

std::map<std::string, std::string> XvfbDisplay::client_environment() const {
  return {{"DISPLAY", name()}, {"XAUTHORITY", (dir_ / "xauthority").string()}};
}

void XvfbDisplay::kill_server() {
  server_->signal(SIGKILL);
  server_->wait(std::chrono::seconds(5));
}

Screenshot XvfbDisplay::screenshot() {
  XWindowAttributes attributes;
  XGetWindowAttributes(display_, root(), &attributes);
  XImage* image = XGetImage(display_, root(), 0, 0, static_cast<unsigned>(attributes.width),
                            static_cast<unsigned>(attributes.height), AllPlanes, ZPixmap);
  if (image == nullptr) throw std::runtime_error("XGetImage failed");
  Screenshot shot{attributes.width, attributes.height, {}};
  shot.pixels.resize(std::size_t(shot.width) * shot.height);
  for (int y = 0; y < shot.height; ++y) {
    for (int x = 0; x < shot.width; ++x) {
      shot.pixels[std::size_t(y) * shot.width + x] =
          static_cast<std::uint32_t>(XGetPixel(image, x, y) & 0xFFFFFF);
    }
  }
  XDestroyImage(image);
  return shot;
}

std::vector<Window> XvfbDisplay::find_windows(const std::string& prefix) {
  std::vector<Window> found;
  Window root_return, parent;
  Window* children = nullptr;
  unsigned count = 0;
  if (!XQueryTree(display_, root(), &root_return, &parent, &children, &count)) return found;
  for (unsigned i = 0; i < count; ++i) {
    XWindowAttributes attributes;
    if (!XGetWindowAttributes(display_, children[i], &attributes) ||
        attributes.map_state != IsViewable) {
      continue;
    }
    char* name = nullptr;
    if (XFetchName(display_, children[i], &name) && name != nullptr) {
      if (std::string(name).rfind(prefix, 0) == 0) found.push_back(children[i]);
      XFree(name);
    }
  }
  if (children != nullptr) XFree(children);
  return found;
}

std::optional<Window> XvfbDisplay::find_window(const std::string& prefix) {
  auto windows = find_windows(prefix);
  if (windows.empty()) return std::nullopt;
  return windows.front();
}

void XvfbDisplay::geometry(Window window, int* x, int* y, int* width, int* height) {
  XWindowAttributes attributes;
  XGetWindowAttributes(display_, window, &attributes);
  Window child;
  XTranslateCoordinates(display_, window, root(), 0, 0, x, y, &child);
  *width = attributes.width;
  *height = attributes.height;
}

void XvfbDisplay::press_key(unsigned long keysym) {
  KeyCode code = XKeysymToKeycode(display_, keysym);
  XTestFakeKeyEvent(display_, code, True, CurrentTime);
  XTestFakeKeyEvent(display_, code, False, CurrentTime);
  XSync(display_, False);
}

void XvfbDisplay::type_text(const std::string& ascii) {
  KeyCode shift = XKeysymToKeycode(display_, XK_Shift_L);
  for (char c : ascii) {
    KeySym keysym = static_cast<unsigned char>(c);  // Latin-1 keysyms are the characters
    KeyCode code = XKeysymToKeycode(display_, keysym);
    if (code == 0) throw std::runtime_error(std::string("no key for '") + c + "'");
    bool shifted = XkbKeycodeToKeysym(display_, code, 0, 0) != keysym;
    if (shifted) XTestFakeKeyEvent(display_, shift, True, CurrentTime);
    XTestFakeKeyEvent(display_, code, True, CurrentTime);
    XTestFakeKeyEvent(display_, code, False, CurrentTime);
    if (shifted) XTestFakeKeyEvent(display_, shift, False, CurrentTime);
  }
  XSync(display_, False);
}

void XvfbDisplay::move_pointer(int x, int y) {
  XTestFakeMotionEvent(display_, DefaultScreen(display_), x, y, CurrentTime);
  XSync(display_, False);
}

void XvfbDisplay::click(int x, int y) {
  move_pointer(x, y);
  XTestFakeButtonEvent(display_, Button1, True, CurrentTime);
  XTestFakeButtonEvent(display_, Button1, False, CurrentTime);
  XSync(display_, False);
}

DesktopWindow::DesktopWindow(XvfbDisplay& x) : x_(x) {
  Display* d = x.display();
  XSetWindowAttributes attributes{};
  attributes.background_pixel = kColour;  // 24-bit TrueColor: the pixel is the colour
  attributes.override_redirect = True;
  attributes.event_mask = KeyPressMask | ButtonPressMask;
  XWindowAttributes root;
  XGetWindowAttributes(d, x.root(), &root);
  window_ =
      XCreateWindow(d, x.root(), 0, 0, static_cast<unsigned>(root.width),
                    static_cast<unsigned>(root.height), 0, CopyFromParent, InputOutput,
                    CopyFromParent, CWBackPixel | CWOverrideRedirect | CWEventMask, &attributes);
  XStoreName(d, window_, "test desktop");
  XMapWindow(d, window_);
  XSync(d, False);
  focus();
}

DesktopWindow::~DesktopWindow() {
  XDestroyWindow(x_.display(), window_);
  XSync(x_.display(), False);
}

void DesktopWindow::focus() {
  XSetInputFocus(x_.display(), window_, RevertToPointerRoot, CurrentTime);
  XSync(x_.display(), False);
}

void DesktopWindow::collect() {
  Display* d = x_.display();
  XSync(d, False);
  while (XPending(d) > 0) {
    XEvent event;
    XNextEvent(d, &event);
    if (event.type == MappingNotify) {
      XRefreshKeyboardMapping(&event.xmapping);  // keysyms bound on the fly (take control)
      continue;
    }
    if (event.xany.window != window_) continue;
    if (event.type == KeyPress) {
      ++keys_;
      char text[16];
      KeySym keysym = 0;
      int n = XLookupString(&event.xkey, text, sizeof text, &keysym, nullptr);
      typed_.append(text, static_cast<std::size_t>(std::max(n, 0)));
    }
    if (event.type == ButtonPress) {
      ++clicks_;
      last_click_ = {event.xbutton.x, event.xbutton.y, static_cast<int>(event.xbutton.button)};
    }
  }
}

}  // namespace mp::test
