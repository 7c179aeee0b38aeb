// The display numbers mp-session hands to sessions are a range reserved for them. Any local
// user can otherwise take numbers away: X servers of their own, lock files (/tmp/.X<N>-lock),
// socket files (/tmp/.X11-unix/X<N>) or abstract sockets (@/tmp/.X11-unix/X<N>) made for the
// purpose — enough of them and no session could start. Worse, a student's process listening on
// the abstract address of a session's display would receive that display's new X clients.
// So, as root, before a number is used: a lock or socket file with no live X server behind it
// is removed; an X server or abstract socket held by a multipoint student's process is that
// student squatting the range, and the process is killed; anything else (the machine's own X
// server, another service) keeps its number, which is skipped. After Xvfb is up it must hold
// the abstract socket of its number itself.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mp::session {

struct DisplayPaths {
  std::string tmp = "/tmp";  // where X servers put .X<N>-lock and .X11-unix/
  std::string proc = "/proc";
};

class DisplayReservation {
 public:
  // Whether a uid belongs to a student (an account multipoint manages): its squatters die.
  using IsStudent = std::function<bool(uid_t uid)>;

  // `evict` false (not root): nothing is removed or killed; a taken number is just skipped.
  DisplayReservation(bool evict, IsStudent is_student, DisplayPaths paths = {});

  // Makes number N usable if it can: true when nothing holds it (any more).
  bool clear_for_use(int number);
  // After Xvfb `pid` came up on N: whether it (and not another process) listens on N's abstract
  // socket. False means a client could reach someone else's server under this display name.
  bool held_by(int number, pid_t pid) const;

  // What the last clear_for_use did, for logs and tests.
  const std::vector<std::string>& actions() const { return actions_; }

 private:
  std::string lock_file(int number) const;
  std::string socket_file(int number) const;
  std::string abstract_name(int number) const;
  // Socket inodes listening on N's abstract name (from /proc/net/unix).
  std::vector<unsigned long> abstract_listeners(int number) const;
  // Processes holding any of these socket inodes open.
  std::vector<pid_t> holders(const std::vector<unsigned long>& inodes) const;
  // Kills `pid` if it is a student's; true if it did.
  bool evict(pid_t pid, const std::string& what);

  bool evict_;
  IsStudent is_student_;
  DisplayPaths paths_;
  std::vector<std::string> actions_;
};

}  // namespace mp::session
