// Starts the pieces of one session's desktop: its directory (cookie, agent socket, runtime dir),
// an Xvfb display with its own MIT-MAGIC-COOKIE-1, the session command and mp-agent, all as the
// session's user. Stateless: SystemDesktops owns what it starts.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "session_processes.h"
#include "unix_account.h"

namespace mp::session {

struct DesktopConfig {
  // The desktop session, e.g. {"/usr/bin/startxfce4"}; see default_session_command().
  std::vector<std::string> session_command;
  std::filesystem::path agent_program;  // mp-agent
  std::filesystem::path xvfb = "/usr/bin/Xvfb";
  // Per-session directories <sessions_dir>/<id>/ (0700, the session's user), and the cookies
  // for transports in <sessions_dir>/transport/. The parent is 0711 as root, so each user can
  // reach only their own.
  std::filesystem::path sessions_dir;
  int first_display = 10;
  int display_attempts = 16;  // Xvfb starts tried when another server grabs the display first
  std::chrono::milliseconds display_timeout{10000};
  // As root, sessions log to $HOME/.xsession-errors; in development to the session directory.
  bool log_in_home = true;
  // SHELL in the session when the account's own is nologin (students').
  std::filesystem::path session_shell = "/bin/bash";
};

// The first of startxfce4, lxsession, openbox-session found in /usr/bin, else xterm.
std::vector<std::string> default_session_command();
// mp-agent next to the running binary (dirname of /proc/self/exe).
std::filesystem::path default_agent_program();

struct SessionFiles {
  std::filesystem::path dir;         // <sessions_dir>/<id>
  std::filesystem::path xauthority;  // dir/Xauthority: the student's, XAUTHORITY in the session
  // <sessions_dir>/transport/<id>.xauth: the same cookie for the transports (the record's
  // `xauthority`), root:mpoint 0640 as root — a transport running as a system user of group
  // mpoint reads it, the student cannot change what it says.
  std::filesystem::path transport_xauthority;
  std::filesystem::path agent_socket;
  std::filesystem::path runtime_dir;  // XDG_RUNTIME_DIR
  std::string user;  // the multipoint user: MP_USER in the session (USER may be the invoker's)
};

struct StartedDisplay {
  std::string display;  // ":N"
  pid_t pid = -1;
  int pidfd = -1;  // owned by the caller
};

// An Xvfb just started, not yet known to accept connections.
struct SpawnedDisplay {
  StartedDisplay display;
  int ready_fd = -1;  // the read end of its -displayfd pipe, owned by the caller
};

class DesktopLauncher {
 public:
  // `manage_accounts`: root, sessions as their own users. Otherwise everything runs as the
  // invoking user.
  DesktopLauncher(DesktopConfig config, bool manage_accounts);

  const DesktopConfig& config() const { return config_; }
  SessionFiles files(std::uint64_t session_id) const;

  // Makes the session directory (owned by the account) and its runtime directory.
  std::string prepare(std::uint64_t session_id, const UnixAccount& account) const;
  // Starts Xvfb on display `number` with `cookie` in files.xauthority (and its copy for the
  // transports in files.transport_xauthority); it is ready once it writes
  // its display number to `ready_fd` (-displayfd). DisplayStarter waits for that through the
  // reactor and tries the next number if another server got there first.
  std::variant<SpawnedDisplay, std::string> spawn_display(const SessionFiles& files,
                                                          const UnixAccount& account,
                                                          std::uint16_t width, std::uint16_t height,
                                                          int number,
                                                          const std::string& cookie) const;
  // The end of Xvfb's log for the session, to say why it did not come up.
  std::string display_log(const SessionFiles& files) const;
  SpawnResult start_session_command(const SessionFiles& files, const UnixAccount& account,
                                    const std::string& display) const;
  // An application the operator launched in the session (argv[0]: a path or a name on PATH).
  SpawnResult start_app(const SessionFiles& files, const UnixAccount& account,
                        const std::string& display, const std::vector<std::string>& argv) const;
  SpawnResult start_agent(const SessionFiles& files, const UnixAccount& account,
                          const std::string& display, std::uint64_t session_id) const;
  // For a desktop adopted after a restart: makes sure the transports' copy of the cookie is
  // there with its owner and mode, re-creating it from the session's own Xauthority file (only
  // its MIT-MAGIC-COOKIE-1 for `display`) when it is missing or unreadable. Error text, or "".
  std::string ensure_transport_cookie(const SessionFiles& files, const std::string& display) const;
  // Removes the session directory and the transports' cookie (after the session ended).
  void remove_files(std::uint64_t session_id) const;

 private:
  std::string session_shell(const UnixAccount& account) const;
  std::vector<std::string> environment(const SessionFiles& files, const UnixAccount& account,
                                       const std::string& display) const;
  SpawnRequest as_user(const SessionFiles& files, const UnixAccount& account) const;
  SpawnResult start_in_session(const SessionFiles& files, const UnixAccount& account,
                               const std::string& display,
                               const std::vector<std::string>& argv) const;
  // The group the transports run in (mpoint), as root and when it exists; else nullopt: the
  // copy is for root (or, not root, the invoking user) only.
  std::optional<gid_t> transport_group() const;
  std::string write_transport_cookie(const SessionFiles& files, int display_number,
                                     const std::string& cookie) const;

  DesktopConfig config_;
  bool manage_accounts_;
};

// 16 random bytes: a display's MIT-MAGIC-COOKIE-1.
std::string random_cookie();
// Another X server holds display `number` (its lock file or socket exists).
bool display_held_by_another_server(int number);

// Writes an Xauthority file holding one MIT-MAGIC-COOKIE-1 for `display_number` (any host),
// mode 0600 — or, with `readable_by`, 0640 and that group (the owner stays the writer). Written
// whole under another name and renamed. Error text on failure.
std::string write_xauthority(const std::filesystem::path& file, int display_number,
                             const std::string& cookie,
                             std::optional<gid_t> readable_by = std::nullopt);
// The MIT-MAGIC-COOKIE-1 an Xauthority file holds for `display_number` (16 bytes), or nullopt
// when the file cannot be read (a symbolic link is not followed), is not a regular file of at
// most 64 KiB, or holds no such entry.
std::optional<std::string> read_xauthority_cookie(const std::filesystem::path& file,
                                                  int display_number);

}  // namespace mp::session
