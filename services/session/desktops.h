// What SessionService asks of the machine: the Linux accounts behind users, and the running
// desktop (display, session command, agent) behind each session. SystemDesktops is the real
// one; SessionService only keeps the records, so its rules are testable without processes.
#pragma once

#include <sys/types.h>
#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "screen_requests.h"
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
    // An image of the session's screen from its agent (checked).
    std::function<void(std::uint64_t session_id, mp::schema::AgentThumbnail::Reader)> thumbnail;
  };

  virtual ~Desktops() = default;
  virtual void set_events(Events events) = 0;

  // Accounts: an error text, or empty.
  virtual std::string add_user(const std::string& name) = 0;
  virtual std::string remove_user(const std::string& name) = 0;

  // How a start ended: the record with display, unix_user, xauthority and processes filled, or
  // why the desktop could not start (then nothing of it is left running).
  using Started = std::function<void(std::variant<SessionRecord, std::string> result)>;
  // Starts the desktop of a new session whose id, user, station, width and height are set, on a
  // display not in `taken`, without waiting for it (an X server takes from 0.3 s to seconds to
  // come up, and the service's loop must go on meanwhile). `done` is called once: from the loop
  // when the desktop is up or has failed, or before start() returns.
  virtual void start(const SessionRecord& record, const std::set<std::string>& taken,
                     const std::string& privacy_notice, Started done) = 0;
  // Abandons a start whose `done` has not been called: whatever it started ends, and `done` is
  // never called.
  virtual void cancel_start(std::uint64_t session_id) = 0;
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
  // Passes a thumbnail stream request, or an operator's input, to the session's agent; false
  // with a reason if it could not.
  virtual bool request_thumbnails(std::uint64_t session_id, const ThumbnailRequest& request,
                                  std::string* reason) = 0;
  virtual bool send_input(std::uint64_t session_id,
                          capnp::List<mp::schema::InputEvent>::Reader events,
                          std::string* reason) = 0;
  // Starts `command` in the session as its user, on its display; false with a reason if not.
  virtual bool launch_app(std::uint64_t /*session_id*/, const std::vector<std::string>& /*command*/,
                          std::string* reason) {
    *reason = "applications cannot be started here";
    return false;
  }
  // Ends the session's processes running `program` (by executable name); how many, or -1 with
  // a reason.
  virtual int close_app(std::uint64_t /*session_id*/, const std::string& /*program*/,
                        std::string* reason) {
    *reason = "applications cannot be closed here";
    return -1;
  }
};

}  // namespace mp::session
