#include "session_flags.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <sstream>

#include "desktop_launcher.h"
#include "mp/bus/endpoints.h"
#include "privacy_notice.h"

namespace mp::session {

namespace {

std::vector<std::string> split_command(const std::string& command) {
  std::istringstream words(command);
  std::vector<std::string> argv;
  for (std::string word; words >> word;) argv.push_back(word);
  return argv;
}

std::string joined(const std::vector<std::string>& argv) {
  std::string text;
  for (const auto& a : argv) text += (text.empty() ? "" : " ") + a;
  return text;
}

}  // namespace

SessionFlags::SessionFlags()
    : runtime_dir(mp::bus::default_runtime_dir()),
      state_dir(mp::bus::default_state_dir()),
      session_command(joined(default_session_command())),
      agent(default_agent_program().string()),
      privacy_notice(kDefaultPrivacyNotice) {}

void SessionFlags::add_to(CLI::App& app) {
  app.add_option("--runtime-dir", runtime_dir, "where the bus sockets live")->capture_default_str();
  app.add_option("--state-dir", state_dir, "where session.db is kept")->capture_default_str();
  app.add_option("--sessions-dir", sessions_dir,
                 "per-session directories (cookie, agent socket); default "
                 "/run/multipoint-sessions as root, else RUNTIME-DIR/sessions");
  app.add_option("--session-command", session_command,
                 "the desktop session, run as the user (words split on spaces, no shell)")
      ->capture_default_str();
  app.add_option("--agent", agent, "the mp-agent binary")->capture_default_str();
  app.add_option("--xvfb", xvfb, "the Xvfb binary")->capture_default_str();
  app.add_option("--first-display", first_display, "sessions get displays :N from here up")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  app.add_option("--disconnected-timeout", disconnected_timeout_s,
                 "log off a disconnected session after this many seconds; 0: never")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--privacy-notice", privacy_notice,
                 "shown at a user's first logon until acknowledged; empty: none")
      ->capture_default_str();
  app.add_option("--apps", apps_file,
                 "JSON list of the applications operators may launch and close by name; "
                 "default: the usual ones that are installed (terminal, editor, calculator, "
                 "browser)");
  app.add_option("--web-filter", web_filter,
                 "as root, before a desktop starts, its user is handed to mp-webfilter: "
                 "'required' (no desktop unless mp-webfilter confirms), 'optional' (go on when "
                 "no mp-webfilter runs or it does not manage nftables), 'off'")
      ->check(CLI::IsMember({"required", "optional", "off"}))
      ->capture_default_str();
  app.add_flag("--end-all-sessions", end_all,
               "log off every recorded session, end its desktop, and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
}

std::variant<SessionSetup, std::string> resolve(const SessionFlags& flags, bool as_root) {
  SessionSetup setup{.sessions_dir = flags.sessions_dir};
  if (setup.sessions_dir.empty()) {
    setup.sessions_dir = default_sessions_dir(as_root, flags.runtime_dir);
    setup.own_sessions_dir =
        std::filesystem::path(setup.sessions_dir).filename().string().starts_with("bus-");
  }
  setup.session_command = split_command(flags.session_command);
  if (setup.session_command.empty()) return std::string("--session-command is empty");
  if (flags.apps_file.empty()) {
    setup.apps = AppCatalog::installed_defaults();
  } else {
    auto loaded = AppCatalog::load(flags.apps_file);
    if (auto* error = std::get_if<std::string>(&loaded)) return "--apps: " + *error;
    setup.apps = std::get<AppCatalog>(std::move(loaded));
  }
  return setup;
}

std::string default_sessions_dir(bool as_root, const std::string& runtime_dir) {
  if (!as_root) return (std::filesystem::path(runtime_dir) / "sessions").string();
  const std::filesystem::path base = "/run/multipoint-sessions";
  // The production bus, not default_runtime_dir(): that honours MP_RUNTIME_DIR, which the
  // supervisor sets for every child, so each test's bus would have shared one directory.
  if (std::filesystem::path(runtime_dir) == "/run/multipoint") return base.string();
  std::error_code ec;
  std::filesystem::create_directories(base, ec);
  chmod(base.c_str(), 0711);
  char name[32];
  std::snprintf(name, sizeof name, "bus-%016zx", std::hash<std::string>{}(runtime_dir));
  return (base / name).string();
}

}  // namespace mp::session
