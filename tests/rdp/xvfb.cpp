#include "xvfb.h"

#include <X11/Xauth.h>
#include <X11/Xlib.h>
#include <X11/Xutil.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <random>
#include <stdexcept>

namespace mp::test {

namespace {

void put16(std::string& out, std::size_t value) {
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

void put_field(std::string& out, const std::string& field) {
  put16(out, field.size());
  out += field;
}

// One FamilyWild entry with an empty display number: matches any display on this host.
void write_cookie_file(const std::filesystem::path& path) {
  std::random_device random;
  std::string cookie;
  for (int i = 0; i < 16; ++i) cookie.push_back(static_cast<char>(random() & 0xff));
  std::string entry;
  put16(entry, 0xffff);
  put_field(entry, "");
  put_field(entry, "");
  put_field(entry, "MIT-MAGIC-COOKIE-1");
  put_field(entry, cookie);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << entry;
}

std::mutex xlib_auth_mutex;

// Opens a display with this Xvfb's cookie, without touching the process environment.
Display* open_with_cookie(const std::string& name, const std::filesystem::path& xauthority) {
  FILE* file = std::fopen(xauthority.c_str(), "rb");
  if (file == nullptr) return nullptr;
  Xauth* entry = XauReadAuth(file);
  std::fclose(file);
  if (entry == nullptr) return nullptr;
  std::lock_guard lock(xlib_auth_mutex);
  XSetAuthorization(entry->name, entry->name_length, entry->data, entry->data_length);
  Display* display = XOpenDisplay(name.c_str());
  XSetAuthorization(nullptr, 0, nullptr, 0);
  XauDisposeAuth(entry);
  return display;
}

}  // namespace

Xvfb::Xvfb(const std::filesystem::path& dir, int width, int height) {
  static int counter = 0;
  xauthority_ = dir / ("xauth-" + std::to_string(getpid()) + "-" + std::to_string(++counter));
  write_cookie_file(xauthority_);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  std::string screen = std::to_string(width) + "x" + std::to_string(height) + "x24";
  pid_ = fork();
  if (pid_ == 0) {
    dup2(fds[1], 3);  // dup2 clears O_CLOEXEC on the copy
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execlp("Xvfb", "Xvfb", "-displayfd", "3", "-auth", xauthority_.c_str(), "-screen", "0",
           screen.c_str(), "-nolisten", "tcp", "-noreset", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  std::string number;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char c;
    ssize_t n = read(fds[0], &c, 1);
    if (n <= 0) break;
    if (c == '\n') break;
    number.push_back(c);
  }
  close(fds[0]);
  if (number.empty()) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    throw std::runtime_error("Xvfb did not start");
  }
  name_ = ":" + number;
}

Xvfb::~Xvfb() {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      usleep(20000);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

Screenshot Xvfb::screenshot() const {
  Screenshot shot;
  Display* display = open_with_cookie(name_, xauthority_);
  if (display == nullptr) return shot;
  Window root = DefaultRootWindow(display);
  shot.width = DisplayWidth(display, DefaultScreen(display));
  shot.height = DisplayHeight(display, DefaultScreen(display));
  XImage* image = XGetImage(display, root, 0, 0, static_cast<unsigned>(shot.width),
                            static_cast<unsigned>(shot.height), AllPlanes, ZPixmap);
  if (image != nullptr) {
    shot.rgb.resize(static_cast<std::size_t>(shot.width) * shot.height * 3);
    for (int y = 0; y < shot.height; ++y) {
      for (int x = 0; x < shot.width; ++x) {
        unsigned long p = XGetPixel(image, x, y);
        auto i = (static_cast<std::size_t>(y) * shot.width + x) * 3;
        shot.rgb[i] = static_cast<std::uint8_t>((p >> 16) & 0xff);
        shot.rgb[i + 1] = static_cast<std::uint8_t>((p >> 8) & 0xff);
        shot.rgb[i + 2] = static_cast<std::uint8_t>(p & 0xff);
      }
    }
    XDestroyImage(image);
  } else {
    shot.width = shot.height = 0;
  }
  XCloseDisplay(display);
  return shot;
}

std::pair<int, int> Xvfb::largest_window_origin(int* width, int* height) const {
  Display* display = open_with_cookie(name_, xauthority_);
  if (display == nullptr) return {0, 0};
  Window root = DefaultRootWindow(display), parent = 0, *children = nullptr;
  unsigned count = 0;
  std::pair<int, int> origin{0, 0};
  long best_area = 0;
  if (XQueryTree(display, root, &root, &parent, &children, &count)) {
    for (unsigned i = 0; i < count; ++i) {
      XWindowAttributes a;
      if (!XGetWindowAttributes(display, children[i], &a) || a.map_state != IsViewable) continue;
      long area = static_cast<long>(a.width) * a.height;
      if (area > best_area) {
        best_area = area;
        origin = {a.x, a.y};
        if (width) *width = a.width;
        if (height) *height = a.height;
      }
    }
    if (children) XFree(children);
  }
  XCloseDisplay(display);
  return origin;
}

bool Screenshot::save_png(const std::filesystem::path& path) const {
  if (width == 0) return false;
  auto ppm = path;
  ppm += ".ppm";
  {
    std::ofstream out(ppm, std::ios::binary | std::ios::trunc);
    out << "P6\n" << width << " " << height << "\n255\n";
    out.write(reinterpret_cast<const char*>(rgb.data()), static_cast<std::streamsize>(rgb.size()));
  }
  std::string command = "convert '" + ppm.string() + "' '" + path.string() + "' 2>/dev/null";
  int rc = std::system(command.c_str());
  std::filesystem::remove(ppm);
  return rc == 0;
}

}  // namespace mp::test
