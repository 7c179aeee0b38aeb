// mp-agent: runs inside one station session as its user, shows the lock screen, messages and
// the privacy notice on the session's display, and heartbeats to mp-session over the session's
// private channel. Thin: flags, logging, the display, the channel, the loop until SIGTERM.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <clocale>
#include <cstdio>
#include <cstdlib>

#include "agent.h"
#include "input_injector.h"
#include "mp/bus/reactor.h"
#include "mp/bus/service_main.h"
#include "screen_grabber.h"
#include "session_link.h"
#include "x_connection.h"
#include "x_screen.h"

int main(int argc, char** argv) {
  CLI::App app{"mp-agent: the multipoint agent inside a station session"};
  const char* endpoint_env = std::getenv("MP_AGENT_ENDPOINT");
  std::string endpoint = endpoint_env != nullptr ? endpoint_env : "";
  std::uint64_t session_id = 0;
  std::string log_level = "info";
  app.add_option("--endpoint", endpoint,
                 "mp-session's channel for this session, e.g. "
                 "ipc:///run/multipoint-agent/<session>/agent.sock (default: $MP_AGENT_ENDPOINT)");
  app.add_option("--session-id", session_id, "the session this agent serves")->required();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!mp::bus::setup_logging("agent", log_level)) {
    std::fprintf(stderr, "mp-agent: unknown log level '%s'\n", log_level.c_str());
    return 2;
  }
  if (endpoint.empty()) {
    spdlog::critical("no channel: give --endpoint or set MP_AGENT_ENDPOINT");
    return 2;
  }
  // Typed text and window titles follow the session's locale (the input method needs it).
  std::setlocale(LC_CTYPE, "");
  signal(SIGPIPE, SIG_IGN);

  try {
    // First, so ZeroMQ's threads inherit SIGTERM blocked and it reaches the loop's signalfd.
    mp::bus::Reactor reactor;
    reactor.stop_on_signals();
    mp::agent::XConnection x;
    mp::agent::XScreen screen(x, reactor);
    mp::bus::Context context(1);
    std::unique_ptr<mp::agent::Agent> agent;
    mp::agent::SessionLink link(context, reactor, endpoint,
                                [&agent](const mp::bus::Incoming& message) {
                                  if (agent) agent->on_message(message);
                                });
    agent = std::make_unique<mp::agent::Agent>(
        mp::agent::AgentIdentity{.session_id = session_id,
                                 .display = x.name(),
                                 .pid = static_cast<std::int32_t>(getpid())},
        screen, [&link](const mp::agent::BodyBuilder& body) { return link.send(body); });
    mp::agent::ScreenGrabber grabber(x);
    mp::agent::ThumbnailStreams thumbnails(
        reactor, [&grabber](mp::agent::ScreenImage* image) { return grabber.grab(image); },
        [&link](const mp::agent::BodyBuilder& body) { return link.send(body); });
    agent->set_thumbnails(&thumbnails);
    std::unique_ptr<mp::agent::InputInjector> input;
    try {
      input = std::make_unique<mp::agent::InputInjector>(x);
      agent->set_input(
          [&input](capnp::List<mp::schema::InputEvent>::Reader events) { input->inject(events); });
    } catch (const std::exception& e) {
      spdlog::warn("{}", e.what());
    }
    reactor.watch_fd(x.fd(), [&screen] { screen.process_pending(); });
    spdlog::info("session {} on display {}, channel {}", session_id, x.name(), endpoint);
    agent->start(reactor);
    screen.process_pending();
    reactor.run();
    spdlog::info("stopping: {} heartbeats, {} states applied, {} frames rejected",
                 agent->counters().heartbeats_sent, agent->counters().states_applied,
                 link.counters().rejected);
    screen.set_lock(false, "");
    screen.process_pending();
  } catch (const std::exception& e) {
    spdlog::critical("{}", e.what());
    return 1;
  }
  return 0;
}
