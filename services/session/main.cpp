// mp-session: the authority for stations, users and sessions, and the owner of the sessions'
// desktops. Thin: flags, logging, the state file, the bus client, then the SessionService on one
// reactor until SIGTERM (which leaves every desktop running). `--end-all-sessions` is a one-shot
// that logs everyone off and exits.
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>
#include <sstream>

#include "desktop_launcher.h"
#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "mp/service/service_main.h"
#include "mp/stationlocks/station_locks.h"
#include "password.h"
#include "session_service.h"
#include "session_store.h"
#include "station_commands.h"
#include "system_desktops.h"
#include "unix_account.h"

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

// As root: /run/multipoint-sessions (0711) for the default bus; another bus (a test, a second
// instance) gets its own subdirectory there, so two instances never share session ids. Not
// root: inside the runtime dir.
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

// A transport answers StationShow or a disconnect within this, or the station's result says so.
constexpr std::chrono::milliseconds kTransportDeadline{3000};
// mp-webfilter confirms a user's rules within this (one nft run), or the desktop waits no more.
constexpr std::chrono::milliseconds kWebAdmissionDeadline{5000};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mp-session: stations, users, sessions and their desktops for multipoint"};
  const bool as_root = geteuid() == 0;
  std::string runtime_dir = mp::bus::default_runtime_dir();
  std::string state_dir = mp::bus::default_state_dir();
  std::string sessions_dir;
  std::string log_level = "info";
  std::string session_command = joined(mp::session::default_session_command());
  std::string agent = mp::session::default_agent_program().string();
  std::string xvfb = "/usr/bin/Xvfb";
  int first_display = 10;
  int disconnected_timeout_s = 0;
  std::string privacy_notice = mp::session::kDefaultPrivacyNotice;
  bool end_all = false;
  std::string apps_file;
  std::string web_filter = "optional";
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
  CLI11_PARSE(app, argc, argv);

  if (int exit_code = mp::service::prepare_service("session", log_level, state_dir)) {
    return exit_code;
  }
  // A test's (or a second instance's) own directory under /run/multipoint-sessions is removed
  // again on the way out when no session is left in it.
  bool own_bus_dir = false;
  if (sessions_dir.empty()) {
    sessions_dir = default_sessions_dir(as_root, runtime_dir);
    own_bus_dir = std::filesystem::path(sessions_dir).filename().string().starts_with("bus-");
  }
  auto command = split_command(session_command);
  if (command.empty()) {
    spdlog::critical("--session-command is empty");
    return 2;
  }
  if (!as_root) {
    spdlog::info("not root: every session runs as uid {} and no Linux accounts are made", getuid());
  }

  mp::session::AppCatalog apps = mp::session::AppCatalog::installed_defaults();
  if (!apps_file.empty()) {
    auto loaded = mp::session::AppCatalog::load(apps_file);
    if (auto* error = std::get_if<std::string>(&loaded)) {
      spdlog::critical("--apps: {}", *error);
      return 2;
    }
    apps = std::get<mp::session::AppCatalog>(std::move(loaded));
  }

  try {
    mp::session::SessionStore store(std::filesystem::path(state_dir) / "session.db");
    mp::session::PasswordHasher hasher;
    mp::bus::Context context(1);
    mp::bus::Reactor reactor;
    mp::session::UnixAccounts accounts(as_root);
    mp::session::DesktopLauncher launcher(mp::session::DesktopConfig{.session_command = command,
                                                                     .agent_program = agent,
                                                                     .xvfb = xvfb,
                                                                     .sessions_dir = sessions_dir,
                                                                     .first_display = first_display,
                                                                     .log_in_home = as_root},
                                          as_root);
    mp::session::SessionServiceOptions options{
        .disconnected_timeout = std::chrono::seconds(disconnected_timeout_s),
        .privacy_notice = privacy_notice};

    if (end_all) {
      // No bus: the sessions end in the store, and subscribers resync when mp-session is back.
      mp::session::SystemDesktops desktops(context, reactor, accounts, launcher,
                                           {.supervise_agents = false});
      mp::session::SessionService service(
          store, hasher, desktops, [](std::string_view, const mp::bus::Build&, std::uint64_t) {},
          nullptr, options);
      std::size_t ended = service.end_all_sessions("--end-all-sessions");
      bool done = reactor.run_until([&] { return !desktops.ending(); }, std::chrono::seconds(20));
      spdlog::info("{} sessions ended{}", ended, done ? "" : "; some processes did not exit");
      return done ? 0 : 1;
    }

    reactor.stop_on_signals();
    mp::bus::Client client(
        context, reactor, mp::bus::Endpoints::in_directory(runtime_dir),
        mp::bus::ClientOptions{.service = std::string(mp::session::kServiceName)});
    mp::session::SystemDesktops desktops(context, reactor, accounts, launcher);
    mp::session::StationCommands* commands = nullptr;  // made once the service is
    options.station_changed = [&commands](const mp::session::Station& station) {
      if (commands) commands->station_changed(station);
    };
    options.session_changed = [&commands](const mp::session::SessionRecord& record) {
      if (commands) commands->session_changed(record);
    };
    mp::session::SessionService service(
        store, hasher, desktops,
        [&client](std::string_view topic, const mp::bus::Build& body, std::uint64_t version) {
          client.publish(topic, body, version);
        },
        [&client] { return client.answer_later(); }, options);
    mp::stationlocks::StationLocks policy(
        client, [&desktops](const std::set<std::string>&, bool) { desktops.policy_changed(); });
    desktops.set_policy(&policy);
    if (web_filter != "off") {
      desktops.set_web_admission([&client, required = web_filter == "required",
                                  admissions = std::uint64_t{0}](
                                     const mp::session::UnixAccount& account,
                                     std::function<void(const std::string&)> done) mutable {
        client.request(
            "webfilter",
            [&](mp::schema::Envelope::Builder e) {
              auto admit = e.initWebAdmit();
              admit.setUid(account.uid);
              admit.setUser(account.name);
            },
            // Admitting a uid twice changes nothing: a retry is harmless, and the key
            // lets the bus answer it from the first attempt.
            mp::bus::RequestOptions{.deadline = kWebAdmissionDeadline,
                                    .idempotency_key = "web-admit:" + std::to_string(account.uid) +
                                                       ":" + std::to_string(++admissions),
                                    .attempts = 2},
            [done, required, user = account.name](mp::bus::Reply reply) {
              if (reply.ok()) return done("");
              if (!required && reply.error_kind() == mp::schema::Error::Kind::UNAVAILABLE) {
                spdlog::warn("{}'s web traffic is not filtered: {}", user, reply.error_text());
                return done("");
              }
              done("the web filter did not take " + user + " in (" + reply.error_text() +
                   "); the desktop does not start unfiltered");
            });
      });
    }
    mp::session::StationCommands station_commands(
        store, service, desktops, std::move(apps),
        [&client](const std::string& transport, const mp::bus::Build& body,
                  std::function<void(mp::bus::Reply)> done) {
          client.request(transport, body, mp::bus::RequestOptions{.deadline = kTransportDeadline},
                         std::move(done));
        },
        [&client] { return client.answer_later(); },
        [&reactor](std::function<void()> later) {
          reactor.after(std::chrono::milliseconds(0), std::move(later));
        });
    commands = &station_commands;
    client.serve([&](const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply) {
      return station_commands.handle(request, reply) || service.handle(request, reply);
    });
    service.recover_desktops();
    policy.start();
    reactor.every(std::chrono::seconds(1), [&service] { service.tick(); });
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
    commands = nullptr;  // it goes before the service
    mp::bus::notify_stopping();
    // The desktops go on: operators restart single services, and the next mp-session adopts them.
    // Desktops still starting end with the service (nothing recorded them).
    spdlog::info("stopping at state version {}; {} desktops left running, {} starting abandoned",
                 service.state_version(), desktops.running(), service.desktops_starting());
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  std::error_code ignored;  // not empty: desktops still run there, and it stays
  if (own_bus_dir) std::filesystem::remove(sessions_dir, ignored);
  return 0;
}
