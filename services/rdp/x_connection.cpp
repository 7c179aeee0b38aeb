#include "x_connection.h"

#include <X11/Xauth.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace mp::rdp {

namespace {

thread_local int last_x_error = 0;

int on_x_error(Display* display, XErrorEvent* event) {
  char text[128] = {};
  XGetErrorText(display, event->error_code, text, sizeof(text));
  spdlog::debug("X error {} ({}) on request {}.{}", static_cast<int>(event->error_code), text,
                static_cast<int>(event->request_code), static_cast<int>(event->minor_code));
  last_x_error = event->error_code;
  return 0;
}

int on_x_io_error(Display* display) {
  spdlog::warn("X connection to {} lost", DisplayString(display));
  return 0;  // the per-display exit handler decides what happens next
}

std::mutex authorization_mutex;  // XSetAuthorization is process-wide state

// The display number of ":10", ":10.0", "unix:10" or "host:10".
std::string display_number(const std::string& name) {
  auto colon = name.rfind(':');
  if (colon == std::string::npos) return "";
  std::string rest = name.substr(colon + 1);
  auto dot = rest.find('.');
  return dot == std::string::npos ? rest : rest.substr(0, dot);
}

struct Cookie {
  std::string name;
  std::vector<char> data;
};

// The MIT-MAGIC-COOKIE-1 entry for this display number (or a wildcard entry).
Cookie read_cookie(const std::string& xauthority, const std::string& number) {
  FILE* file = std::fopen(xauthority.c_str(), "rb");
  if (file == nullptr) throw std::runtime_error("cannot read Xauthority " + xauthority);
  Cookie found;
  while (Xauth* entry = XauReadAuth(file)) {
    std::string entry_name(entry->name, entry->name_length);
    std::string entry_number(entry->number, entry->number_length);
    bool matches = entry_number.empty() || entry_number == number;
    if (found.data.empty() && matches && entry_name == "MIT-MAGIC-COOKIE-1") {
      found.name = entry_name;
      found.data.assign(entry->data, entry->data + entry->data_length);
    }
    XauDisposeAuth(entry);
  }
  std::fclose(file);
  if (found.data.empty()) {
    throw std::runtime_error("no MIT-MAGIC-COOKIE-1 for display " + number + " in " + xauthority);
  }
  return found;
}

}  // namespace

void install_x_error_handlers() {
  XInitThreads();
  XSetErrorHandler(on_x_error);
  XSetIOErrorHandler(on_x_io_error);
}

int take_x_error() {
  int error = last_x_error;
  last_x_error = 0;
  return error;
}

XConnection::XConnection(const std::string& display_name, const std::string& xauthority)
    : name_(display_name) {
  std::string number = display_number(display_name);
  if (number.empty() || number.size() > 6 ||
      number.find_first_not_of("0123456789") != std::string::npos) {
    throw std::runtime_error("not an X display name: '" + display_name + "'");
  }
  Cookie cookie;
  if (!xauthority.empty()) cookie = read_cookie(xauthority, number);
  {
    std::lock_guard lock(authorization_mutex);
    if (!xauthority.empty()) {
      XSetAuthorization(cookie.name.data(), static_cast<int>(cookie.name.size()),
                        cookie.data.data(), static_cast<int>(cookie.data.size()));
    }
    display_ = XOpenDisplay(display_name.c_str());
    XSetAuthorization(nullptr, 0, nullptr, 0);  // back to the default lookup for others
  }
  if (display_ == nullptr) throw std::runtime_error("cannot open X display " + display_name);
  // Without this, a lost connection calls exit() and every peer of mp-rdp would go with it.
  XSetIOErrorExitHandler(display_, on_io_error_exit, this);
}

XConnection::~XConnection() {
  if (display_ != nullptr) XCloseDisplay(display_);
}

void XConnection::on_io_error_exit(Display*, void* self) {
  static_cast<XConnection*>(self)->broken_ = true;
}

}  // namespace mp::rdp
