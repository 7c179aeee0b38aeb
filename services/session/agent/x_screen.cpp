#include "x_screen.h"

#include <X11/extensions/Xrandr.h>
#include <spdlog/spdlog.h>

namespace mp::agent {

namespace {

// Past this many open message windows the oldest is closed: a flood of messages must not
// bury the desktop or exhaust the display's memory.
constexpr std::size_t kMaxOpenMessages = 8;

}  // namespace

XScreen::XScreen(XConnection& x, mp::bus::Reactor& reactor) : x_(x), fonts_(x), lock_(x, reactor) {
  // The lock watches the root: windows mapped or restacked above it, and size changes.
  XSelectInput(x.display(), x.root(), SubstructureNotifyMask | StructureNotifyMask);
  if (x.randr_event_base() >= 0) XRRSelectInput(x.display(), x.root(), RRScreenChangeNotifyMask);
  XFlush(x.display());
}

XScreen::~XScreen() {
  messages_.clear();
  notice_.reset();
}

void XScreen::set_lock(bool locked, std::string_view message) {
  if (locked) {
    lock_.lock(message);
  } else {
    lock_.unlock();
  }
}

void XScreen::show_message(std::uint64_t message_id, std::string_view from, std::string_view text) {
  if (messages_.count(message_id) != 0) return;
  if (messages_.size() >= kMaxOpenMessages) messages_.erase(messages_.begin());
  auto window = std::make_unique<MessageWindow>(x_, fonts_, message_id, std::string(from),
                                                std::string(text), next_cascade_++ % 6,
                                                [this](std::uint64_t id, std::string answer) {
                                                  if (answers_.reply)
                                                    answers_.reply(id, std::move(answer));
                                                });
  window->show();
  messages_.emplace(message_id, std::move(window));
}

void XScreen::show_notice(std::string_view text) {
  if (text == notice_text_ && (notice_ != nullptr) == !text.empty()) return;
  notice_text_ = std::string(text);
  notice_.reset();
  if (text.empty()) return;
  notice_ = std::make_unique<NoticeWindow>(x_, fonts_, notice_text_, [this] {
    notice_text_.clear();
    if (answers_.notice_acknowledged) answers_.notice_acknowledged();
  });
  notice_->show();
}

void XScreen::process_pending() {
  Display* d = x_.display();
  while (XPending(d) > 0) {
    XEvent event;
    XNextEvent(d, &event);
    // The input method may consume a key (a dead key, a compose sequence).
    if (XFilterEvent(&event, None)) continue;
    dispatch(event);
    remove_closed_windows();
  }
  XFlush(d);
}

void XScreen::dispatch(XEvent& event) {
  const Window target = event.xany.window;
  if (target == lock_.window() || target == x_.root() ||
      (x_.randr_event_base() >= 0 && event.type == x_.randr_event_base() + RRScreenChangeNotify)) {
    lock_.handle(event);
    return;
  }
  for (auto& [id, window] : messages_) {
    if (window->window() == target) {
      window->handle(event);
      return;
    }
  }
  if (notice_ != nullptr && notice_->window() == target) notice_->handle(event);
}

void XScreen::remove_closed_windows() {
  std::erase_if(messages_, [](const auto& entry) { return entry.second->closed(); });
  if (notice_ != nullptr && notice_->closed()) notice_.reset();
}

}  // namespace mp::agent
