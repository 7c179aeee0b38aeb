// Starts one session's Xvfb without blocking the service's loop. Xvfb needs 0.3 s to several
// seconds to accept connections; meanwhile mp-session must keep answering the bus (heartbeats,
// other logons, blocks). So the -displayfd pipe and a timeout are watched through the Reactor:
// no thread, and everything stays on the loop's thread like the rest of the service.
// Tries display numbers upwards from first_display, skipping those `taken` or held by another
// X server, and the next one when another server grabbed it first. Destroying a DisplayStarter
// that has not finished ends the Xvfb it started.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <variant>

#include "desktop_launcher.h"
#include "mp/bus/reactor.h"

namespace mp::session {

class DisplayStarter {
 public:
  // The display, which then belongs to the receiver, or why none came up (nothing left running).
  using Done = std::function<void(std::variant<StartedDisplay, std::string> result)>;
  // Whether a display (":N") is spoken for by a session or by another start.
  using Taken = std::function<bool(const std::string& display)>;
  // What the reserved range asks of a number (display_reservation.h): that nothing else holds
  // it before Xvfb starts there, and that the Xvfb that came up holds its abstract socket.
  struct Checks {
    std::function<bool(int number)> usable;
    std::function<bool(int number, pid_t xvfb)> held_by;
  };

  DisplayStarter(mp::bus::Reactor& reactor, const DesktopLauncher& launcher, SessionFiles files,
                 UnixAccount account, std::uint16_t width, std::uint16_t height, Taken taken,
                 Checks checks, Done done);
  ~DisplayStarter();
  DisplayStarter(const DisplayStarter&) = delete;
  DisplayStarter& operator=(const DisplayStarter&) = delete;

  // Spawns the first Xvfb. `done` is called once, from the reactor or before start() returns;
  // it may destroy this DisplayStarter.
  void start();
  // The display being tried (empty when none is).
  const std::string& display() const { return display_; }

 private:
  void try_next();
  void on_ready_readable();
  void on_timeout();
  // The Xvfb being tried did not come up: the next number, or give up.
  void attempt_failed(const std::string& why);
  // Stops watching and ends the Xvfb being tried (if any).
  void abandon_attempt();
  void finish(std::variant<StartedDisplay, std::string> result);

  mp::bus::Reactor& reactor_;
  const DesktopLauncher& launcher_;
  SessionFiles files_;
  UnixAccount account_;
  std::uint16_t width_, height_;
  Taken taken_;
  Checks checks_;
  Done done_;
  std::string cookie_;
  int next_number_;
  int attempts_ = 0;
  std::string last_error_;

  // The attempt in progress.
  std::string display_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int ready_fd_ = -1;
  std::string written_;  // what Xvfb wrote to -displayfd so far
  mp::bus::Reactor::TimerId timeout_ = 0;
};

}  // namespace mp::session
