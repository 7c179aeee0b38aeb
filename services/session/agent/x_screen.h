// AgentScreen on the session's X display: the lock overlay, message windows and the privacy
// notice, and the routing of X events to them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "agent_screen.h"
#include "dialog_window.h"
#include "lock_overlay.h"
#include "message_window.h"
#include "mp/bus/reactor.h"
#include "notice_window.h"
#include "x_connection.h"

namespace mp::agent {

class XScreen final : public AgentScreen {
 public:
  XScreen(XConnection& x, mp::bus::Reactor& reactor);
  ~XScreen() override;

  void set_answers(ScreenAnswers answers) override { answers_ = std::move(answers); }
  void set_lock(bool locked, std::string_view message) override;
  bool confirm_lock() override { return lock_.confirm(); }
  void show_message(std::uint64_t message_id, std::string_view from,
                    std::string_view text) override;
  void show_notice(std::string_view text) override;
  void process_pending() override;

  std::size_t open_messages() const { return messages_.size(); }

 private:
  void dispatch(XEvent& event);
  void remove_closed_windows();

  XConnection& x_;
  DialogFonts fonts_;
  LockOverlay lock_;
  std::map<std::uint64_t, std::unique_ptr<MessageWindow>> messages_;
  std::unique_ptr<NoticeWindow> notice_;
  std::string notice_text_;
  ScreenAnswers answers_;
  int next_cascade_ = 0;
};

}  // namespace mp::agent
