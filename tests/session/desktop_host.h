// A test host for real desktops: a real mp-bus (and mp-policy if asked), a real mp-session
// starting real Xvfb displays with xterm as the session command and the real mp-agent, and a bus
// client to call them. At the end everyone is logged off with `mp-session --end-all-sessions`
// and the Linux accounts the test caused are removed.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "desktop_probe.h"
#include "mp/bus/client.h"
#include "session_fixture.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::session::test {

using namespace std::chrono_literals;
using mp::test::bin_dir;
using mp::test::ChildProcess;
using mp::test::read_file;

inline bool tools_present() {
  for (const char* tool :
       {"/usr/bin/Xvfb", "/usr/bin/xterm", "/usr/bin/xdpyinfo", "/usr/bin/xwininfo"}) {
    if (access(tool, X_OK) != 0) return false;
  }
  return true;
}

class DesktopHost {
 public:
  DesktopHost(int first_display, bool with_policy) : first_display_(first_display) {
    // Session directories must be reachable by the session users: not under the 0700 TempDir.
    chmod(dir.path().c_str(), 0711);
    broker = std::make_unique<ChildProcess>(bin_dir() / "mp-bus",
                                            std::vector<std::string>{"--runtime-dir", runtime()},
                                            ChildProcess::Options{.output_file = dir / "bus.log"});
    if (with_policy) {
      policy = std::make_unique<ChildProcess>(
          bin_dir() / "mp-policy",
          std::vector<std::string>{"--runtime-dir", runtime(), "--state-dir",
                                   (dir / "policy-state").string()},
          ChildProcess::Options{.output_file = dir / "policy.log"});
    }
    start_session();
    caller = std::make_unique<mp::bus::Client>(context, reactor,
                                               mp::bus::Endpoints::in_directory(runtime()),
                                               mp::bus::ClientOptions{.service = "test"});
  }

  ~DesktopHost() {
    session.reset();
    // Desktops outlive mp-session by design: log everyone off the way `./mp down` does.
    mp::test::run(bin_dir() / "mp-session",
                  {"--end-all-sessions", "--state-dir", state(), "--sessions-dir", sessions(),
                   "--runtime-dir", runtime()},
                  {.output_file = dir / "end-all.log"});
    for (const auto& name : users) delete_linux_account(name);
  }

  std::string runtime() const { return (dir / "run").string(); }
  std::string state() const { return (dir / "state").string(); }
  std::string sessions() const { return (dir / "sessions").string(); }
  std::string log() const { return read_file(dir / "session.log"); }

  void start_session() {
    std::vector<std::string> args{"--runtime-dir",     runtime(),
                                  "--state-dir",       state(),
                                  "--sessions-dir",    sessions(),
                                  "--first-display",   std::to_string(first_display_),
                                  "--session-command", "/usr/bin/xterm",
                                  "--agent",           (bin_dir() / "mp-agent").string(),
                                  "--privacy-notice",  "",
                                  "--log-level",       "debug"};
    args.insert(args.end(), session_args.begin(), session_args.end());
    session = std::make_unique<ChildProcess>(
        bin_dir() / "mp-session", args, ChildProcess::Options{.output_file = dir / "session.log"});
  }

  // SIGTERM, then a new mp-session (with the current session_args).
  void restart_session() {
    session->stop();
    start_session();
  }

  Reply call(const Build& body, const std::string& key = {}) {
    return caller->call(kServiceName, body,
                        mp::bus::RequestOptions{.deadline = 15s, .idempotency_key = key});
  }
  bool answers() { return call(snapshot_request()).ok(); }

  // Adds a multipoint user (as root: a Linux account is made and removed at the end).
  void add(const std::string& name) {
    users.push_back(name);
    Reply added = call(add_user(name, name + "-password"), "add-" + name);
    ASSERT_TRUE(added.ok()) << body_text(added);
  }

  std::optional<mp::schema::SessionRecord::Reader> session_of(const Reply& list, std::uint64_t id) {
    for (auto record : list.envelope().getSessionList().getSessions()) {
      if (record.getId() == id) return record;
    }
    return std::nullopt;
  }
  bool agent_up(std::uint64_t id) {
    Reply list = call([](Envelope::Builder e) { e.initSessionListRequest(); });
    auto record = list.ok() ? session_of(list, id) : std::nullopt;
    return record && record->getAgentUp();
  }

  mp::test::TempDir dir{"mp-dt"};
  int first_display_;
  std::vector<std::string> session_args;  // more flags for mp-session (e.g. another --xvfb)
  std::unique_ptr<ChildProcess> broker, policy, session;
  zmq::context_t context;
  mp::bus::Reactor reactor;
  std::unique_ptr<mp::bus::Client> caller;
  std::vector<std::string> users;
};

struct Logon {
  std::uint64_t id = 0;
  std::string display, xauthority, unix_user;
  std::uint16_t width = 0, height = 0;
};

inline Logon logon(DesktopHost& host, const std::string& station, const std::string& user) {
  Reply reply = host.call(credentials(station, user, user + "-password"));
  Logon result;
  if (!reply.ok() || !reply.envelope().getLogonResult().getOk()) {
    ADD_FAILURE() << body_text(reply) << "\n" << host.log();
    return result;
  }
  auto record = reply.envelope().getLogonResult().getSession();
  result.id = record.getId();
  result.display = record.getDisplay();
  result.xauthority = record.getXauthority();
  result.unix_user = record.getUnixUser();
  result.width = record.getWidth();
  result.height = record.getHeight();
  return result;
}

}  // namespace mp::session::test
