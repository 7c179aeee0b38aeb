// mp-session: the authority for stations, users and sessions, and the owner of the sessions'
// desktops. Thin: flags, logging, the state file, the bus client, then the SessionService on one
// reactor until SIGTERM (which leaves every desktop running). `--end-all-sessions` is a one-shot
// that logs everyone off and exits.
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <set>

#include "desktop_launcher.h"
#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/service_main.h"
#include "mp/service/service_main.h"
#include "mp/stationlocks/station_locks.h"
#include "password.h"
#include "session_flags.h"
#include "session_service.h"
#include "session_store.h"
#include "system_desktops.h"
#include "unix_account.h"
#include "web_admission.h"

namespace {

// A transport answers StationShow or a disconnect within this, or the station's result says so.
constexpr std::chrono::milliseconds kTransportDeadline{3000};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"mp-session: stations, users, sessions and their desktops for multipoint"};
  const bool as_root = geteuid() == 0;
  mp::session::SessionFlags flags;
  flags.add_to(app);
  CLI11_PARSE(app, argc, argv);

  if (int exit_code = mp::service::prepare_service("session", flags.log_level, flags.state_dir)) {
    return exit_code;
  }
  auto resolved = mp::session::resolve(flags, as_root);
  if (auto* error = std::get_if<std::string>(&resolved)) {
    spdlog::critical("{}", *error);
    return 2;
  }
  auto& setup = std::get<mp::session::SessionSetup>(resolved);
  if (!as_root) {
    spdlog::info("not root: every session runs as uid {} and no Linux accounts are made", getuid());
  }

  try {
    mp::session::SessionStore store(std::filesystem::path(flags.state_dir) / "session.db");
    mp::session::PasswordHasher hasher;
    mp::bus::Context context(1);
    mp::bus::Reactor reactor;
    mp::session::UnixAccounts accounts(as_root);
    mp::session::DesktopLauncher launcher(
        mp::session::DesktopConfig{.session_command = setup.session_command,
                                   .agent_program = flags.agent,
                                   .xvfb = flags.xvfb,
                                   .sessions_dir = setup.sessions_dir,
                                   .first_display = flags.first_display,
                                   .log_in_home = as_root},
        as_root);
    mp::session::SessionServiceOptions options{
        .disconnected_timeout = std::chrono::seconds(flags.disconnected_timeout_s),
        .privacy_notice = flags.privacy_notice,
        .apps = std::move(setup.apps)};

    if (flags.end_all) {
      // No bus: the sessions end in the store, and subscribers resync when mp-session is back.
      // Nothing deferred runs either: the next mp-session lets projection follow.
      mp::session::SystemDesktops desktops(context, reactor, accounts, launcher,
                                           {.supervise_agents = false});
      mp::session::SessionService service(
          store, hasher, desktops,
          {.publish = [](std::string_view, const mp::bus::Build&, std::uint64_t) {},
           .defer = [](std::function<void()>) {}},
          std::move(options));
      std::size_t ended = service.end_all_sessions("--end-all-sessions");
      bool done = reactor.run_until([&] { return !desktops.ending(); }, std::chrono::seconds(20));
      spdlog::info("{} sessions ended{}", ended, done ? "" : "; some processes did not exit");
      return done ? 0 : 1;
    }

    reactor.stop_on_signals();
    mp::bus::Client client(
        context, reactor, mp::bus::Endpoints::in_directory(flags.runtime_dir),
        mp::bus::ClientOptions{.service = std::string(mp::session::kServiceName)});
    mp::session::SystemDesktops desktops(
        context, reactor, accounts, launcher, {.is_own_student = [&store](uid_t uid) {
          auto account = mp::session::find_account(uid);
          return account && mp::session::is_multipoint_account(uid) &&
                 store.user(account->name).has_value();
        }});
    mp::session::SessionService service(
        store, hasher, desktops,
        {.publish = [&client](std::string_view topic, const mp::bus::Build& body,
                              std::uint64_t version) { client.publish(topic, body, version); },
         .answer_later = [&client] { return client.answer_later(); },
         .request =
             [&client](const std::string& transport, const mp::bus::Build& body,
                       std::function<void(mp::bus::Reply)> done) {
               client.request(transport, body,
                              mp::bus::RequestOptions{.deadline = kTransportDeadline},
                              std::move(done));
             },
         .defer =
             [&reactor](std::function<void()> later) {
               reactor.after(std::chrono::milliseconds(0), std::move(later));
             }},
        std::move(options));
    mp::stationlocks::StationLocks policy(
        client, [&desktops](const std::set<std::string>&, bool) { desktops.policy_changed(); });
    desktops.set_policy(&policy);
    if (flags.web_filter != "off") {
      desktops.set_web_admission(
          mp::session::web_filter_admission(client, flags.web_filter == "required"));
    }
    client.serve([&service](const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply) {
      return service.handle(request, reply);
    });
    service.recover_desktops();
    policy.start();
    reactor.every(std::chrono::seconds(1), [&service] { service.tick(); });
    mp::bus::notify_ready();
    mp::bus::start_watchdog(reactor);
    reactor.run();
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
  if (setup.own_sessions_dir) std::filesystem::remove(setup.sessions_dir, ignored);
  return 0;
}
