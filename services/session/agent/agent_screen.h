// What the agent shows on the session's display, seen from the protocol: the X11 side
// implements it (XScreen), and protocol tests can record what was asked of it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace mp::agent {

// What the student does in the agent's windows.
struct ScreenAnswers {
  std::function<void(std::uint64_t message_id, std::string text)> reply;
  std::function<void()> notice_acknowledged;
};

class AgentScreen {
 public:
  virtual ~AgentScreen() = default;

  virtual void set_answers(ScreenAnswers answers) = 0;
  // Shows (at once) or removes the lock overlay; a new message while locked replaces the old.
  virtual void set_lock(bool locked, std::string_view message) = 0;
  // While locked, asserts the overlay again (raised, grabs held). True if it is shown: mapped
  // and holding the keyboard and pointer grabs. False when unlocked.
  virtual bool confirm_lock() = 0;
  // Opens a message window; a message id already open is not opened twice.
  virtual void show_message(std::uint64_t message_id, std::string_view from,
                            std::string_view text) = 0;
  // Shows the privacy notice (the same text again changes nothing); empty: remove it.
  virtual void show_notice(std::string_view text) = 0;
  // Handles whatever the display has sent (input, exposure). Called after every other call
  // into the screen from the loop, because a round trip may have queued events.
  virtual void process_pending() = 0;
};

}  // namespace mp::agent
