// What SessionService asks of the machine: the Linux accounts behind users, and the running
// desktop (display, session command, agent) behind each session. SystemDesktops is the real
// one; SessionService only keeps the records, so its rules are testable without processes.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "session_store.h"

namespace mp::session {

class Desktops {
 public:
  struct Events {
    // The session's display or its session command exited: the session is over.
    std::function<void(std::uint64_t session_id, const std::string& reason)> ended;
    // The agent started or stopped heartbeating.
    std::function<void(std::uint64_t session_id, bool up)> agent_up;
    // A new agent process was started (its pid is kept for re-adoption after a restart).
    std::function<void(std::uint64_t session_id, pid_t pid)> agent_started;
    // The student answered message `message_id`.
    std::function<void(std::uint64_t session_id, std::uint64_t message_id, const std::string& text)>
        reply;
    // The student dismissed the privacy notice.
    std::function<void(std::uint64_t session_id)> notice_acknowledged;
  };

  virtual ~Desktops() = default;
  virtual void set_events(Events events) = 0;

  // Accounts: an error text, or empty.
  virtual std::string add_user(const std::string& name) = 0;
  virtual std::string remove_user(const std::string& name) = 0;

  // Starts the desktop of a new session whose id, user, station, width and height are set.
  // Picks a display not in `taken` and fills display, unix_user, xauthority and processes.
  // Returns an error text (and leaves nothing running) if it cannot.
  virtual std::string start(SessionRecord& record, const std::set<std::string>& taken,
                            const std::string& privacy_notice) = 0;
  // After mp-session restarted: takes over the recorded desktop if its display still runs.
  // False if it is gone (the caller ends the session; whatever is left of it is ended here).
  virtual bool adopt(const SessionRecord& record, const std::string& privacy_notice) = 0;
  // The record changed and was committed (moved to another station, disconnected, ended).
  // An ended session's processes and display end.
  virtual void changed(const SessionRecord& record) = 0;
  virtual void set_privacy_notice(std::uint64_t session_id, const std::string& text) = 0;
  // Shows an instant message in the session; false with a reason if it could not.
  virtual bool show_message(std::uint64_t session_id, std::uint64_t message_id,
                            const std::string& from, const std::string& text,
                            std::string* reason) = 0;
};

}  // namespace mp::session
