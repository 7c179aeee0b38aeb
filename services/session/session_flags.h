// mp-session's command line: where its state, sockets and session directories live, what a
// desktop runs, and what an administrator sets at start. resolve() turns the flags into what
// mp-session runs with, or says why it cannot start.
#pragma once

#include <string>
#include <variant>
#include <vector>

#include "app_catalog.h"

namespace CLI {
class App;
}

namespace mp::session {

struct SessionFlags {
  std::string runtime_dir;      // the bus's; default: mp::bus::default_runtime_dir()
  std::string state_dir;        // session.db; default: mp::bus::default_state_dir()
  std::string sessions_dir;     // empty: default_sessions_dir()
  std::string session_command;  // words split on spaces, no shell
  std::string agent;
  std::string xvfb = "/usr/bin/Xvfb";
  int first_display = 10;
  int disconnected_timeout_s = 0;
  std::string privacy_notice;
  std::string apps_file;                // empty: AppCatalog::installed_defaults()
  std::string web_filter = "optional";  // required, optional, off
  bool end_all = false;
  std::string log_level = "info";

  SessionFlags();  // the defaults that depend on the machine and the binary's place
  void add_to(CLI::App& app);
};

struct SessionSetup {
  std::string sessions_dir;
  // A test's (or a second instance's) own directory under /run/multipoint-sessions: removed on
  // the way out when no session is left in it.
  bool own_sessions_dir = false;
  std::vector<std::string> session_command;
  AppCatalog apps;
};

// The setup, or why the flags cannot work (an empty command, a bad --apps file).
std::variant<SessionSetup, std::string> resolve(const SessionFlags& flags, bool as_root);

// As root: /run/multipoint-sessions (0711) for the default bus; another bus (a test, a second
// instance) gets its own subdirectory there, so two instances never share session ids. Not
// root: inside the runtime dir.
std::string default_sessions_dir(bool as_root, const std::string& runtime_dir);

}  // namespace mp::session
