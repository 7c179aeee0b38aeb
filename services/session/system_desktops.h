// The real Desktops: Linux accounts through UnixAccounts, desktops through DesktopLauncher, and
// for each running session its agent channel, the lock its station's policy asks for, and a
// watch on its processes (pidfd): the display or the session command exiting ends the session;
// the agent exiting is restarted at once, then with growing delays if it keeps dying.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent_channel.h"
#include "desktop_launcher.h"
#include "desktops.h"
#include "display_reservation.h"
#include "display_starter.h"
#include "mp/bus/channel.h"
#include "mp/bus/peer_gate.h"
#include "mp/bus/reactor.h"
#include "mp/stationlocks/station_locks.h"
#include "session_processes.h"
#include "unix_account.h"

namespace mp::session {

struct SystemDesktopsOptions {
  // Between TERM and KILL when a session ends.
  std::chrono::milliseconds end_grace{2000};
  // An agent that lived at least this long is restarted at once; one that dies sooner waits
  // 0.5 s, 1 s, 2 s, ... up to max_agent_backoff.
  std::chrono::milliseconds agent_stable_after{10000};
  std::chrono::milliseconds max_agent_backoff{30000};
  // false for the one-shot --end-all-sessions: adopted sessions get no new agent.
  bool supervise_agents = true;
  // Only the agent process mp-session started may connect to its session's channel (a ZAP
  // gate on the context: one SystemDesktops per context then).
  bool gate_agents = true;
  // An agent that is stopped (SIGSTOP, a tracer), or runs but has not heartbeated for this
  // long, is killed and so restarted: it counts as down meanwhile.
  std::chrono::milliseconds agent_silent_limit{3000};
  AgentChannel::Options channel;
  // Whose X servers in the display range are squatters to kill (display_reservation.h): this
  // mp-session's students. Empty: any account multipoint made. main() narrows it to the users
  // in its store, so a second mp-session (a test's, next to another) never kills the first's
  // desktops — it skips their numbers.
  std::function<bool(uid_t)> is_own_student;
};

class SystemDesktops : public Desktops {
 public:
  // `policy` may be null (no lock relay, e.g. the one-shot); set it later with set_policy.
  SystemDesktops(mp::bus::Context& context, mp::bus::Reactor& reactor, UnixAccounts& accounts,
                 DesktopLauncher& launcher, SystemDesktopsOptions options = {});
  // Leaves every desktop running: a stopping mp-session does not log anyone off. Desktops still
  // starting end (nothing recorded them, so no later mp-session could adopt them).
  ~SystemDesktops() override;

  void set_policy(const mp::stationlocks::StationLocks* policy) { policy_ = policy; }
  // Asked before a desktop's first process starts (as root only): `done` with "" once the
  // account's traffic is under the web filter's rules, or with why the desktop cannot start.
  using WebAdmission = std::function<void(const UnixAccount& account,
                                          std::function<void(const std::string& error)> done)>;
  void set_web_admission(WebAdmission admission) { admission_ = std::move(admission); }
  // The station locks may have changed: pushes the new state to every agent.
  void policy_changed();

  void set_events(Events events) override { events_ = std::move(events); }
  std::string add_user(const std::string& name) override;
  std::string remove_user(const std::string& name) override;
  void start(const SessionRecord& record, const std::set<std::string>& taken,
             const std::string& privacy_notice, Started done) override;
  void cancel_start(std::uint64_t session_id) override;
  bool adopt(const SessionRecord& record, const std::string& privacy_notice) override;
  void changed(const SessionRecord& record) override;
  void set_privacy_notice(std::uint64_t session_id, const std::string& text) override;
  bool show_message(std::uint64_t session_id, std::uint64_t message_id, const std::string& from,
                    const std::string& text, std::string* reason) override;
  bool request_thumbnails(std::uint64_t session_id, const ThumbnailRequest& request,
                          std::string* reason) override;
  bool send_input(std::uint64_t session_id, capnp::List<mp::schema::InputEvent>::Reader events,
                  std::string* reason) override;
  // session_apps.cpp
  bool launch_app(std::uint64_t session_id, const std::vector<std::string>& command,
                  std::string* reason) override;
  int close_app(std::uint64_t session_id, const std::string& program, std::string* reason) override;

  // Sessions still ending (processes not yet gone).
  bool ending() const { return !dying_.empty(); }
  std::size_t running() const { return running_.size(); }
  std::size_t starting() const { return starting_.size(); }
  const AgentChannel* channel(std::uint64_t session_id) const;

 private:
  struct Running {
    SessionRecord record;
    UnixAccount account;
    SessionFiles files;
    std::string privacy_notice;
    std::unique_ptr<ProcessWatch> xvfb, session, agent;
    // Applications the operator launched, each in a Unix session of its own: ended with the
    // desktop. (Not kept across restarts of mp-session: as root the user's processes all go.)
    std::map<pid_t, std::unique_ptr<ProcessWatch>> apps;
    std::unique_ptr<AgentChannel> channel;
    std::chrono::steady_clock::time_point agent_started_at{};
    int agent_failures = 0;
    mp::bus::Reactor::TimerId agent_timer = 0;
  };
  // A desktop whose display is coming up.
  struct Starting {
    SessionRecord record;
    UnixAccount account;
    SessionFiles files;
    std::string privacy_notice;
    std::set<std::string> taken;
    Started done;
    std::unique_ptr<DisplayStarter> display;
  };
  struct Dying {
    std::set<pid_t> sessions;
    std::optional<uid_t> uid;
    std::vector<std::unique_ptr<ProcessWatch>> watches;
    mp::bus::Reactor::TimerId timer = 0;
    std::chrono::steady_clock::time_point kill_at{};
    bool killed = false;
  };

  std::optional<uid_t> owner_of(const UnixAccount& account) const;
  // Whether `display` is spoken for, seen from the start of session `starting_id`.
  bool display_taken(const std::string& display, std::uint64_t starting_id) const;
  void display_started(std::uint64_t id, std::variant<StartedDisplay, std::string> display);
  // The rest of a desktop once its display is up: session command, agent channel, agent.
  // Error text on failure (the display is ended then).
  std::string start_on_display(Starting& starting, const StartedDisplay& display);
  // The channel of a running session; null with a reason if there is none.
  AgentChannel* running_channel(std::uint64_t session_id, std::string* reason);
  std::unique_ptr<AgentChannel> open_channel(std::uint64_t session_id, const SessionFiles& files,
                                             const UnixAccount& account);
  void watch_display(Running& running, int pidfd, pid_t pid);
  void watch_session_command(Running& running, int pidfd, pid_t pid);
  void watch_agent(Running& running, int pidfd, pid_t pid);
  void start_agent(std::uint64_t session_id);
  void agent_exited(std::uint64_t session_id);
  // Whether `peer` may talk on the agent channel of gate domain `domain`.
  bool agent_may_connect(const std::string& domain, const mp::bus::IpcPeer& peer) const;
  // Kills agents that are stopped or silent (see agent_silent_limit).
  void check_agents();
  AgentStateWanted wanted(const Running& running) const;
  // Stops supervising a session (if it was) and ends its recorded processes: TERM now, KILL
  // after the grace, then its files go.
  void end(const SessionRecord& record);
  void check_dying(std::uint64_t session_id);
  void forget_dying(std::uint64_t session_id);

  mp::bus::Context& context_;
  mp::bus::Reactor& reactor_;
  UnixAccounts& accounts_;
  DesktopLauncher& launcher_;
  SystemDesktopsOptions options_;
  const mp::stationlocks::StationLocks* policy_ = nullptr;
  WebAdmission admission_;
  Events events_;
  std::uint64_t incarnation_;
  std::unique_ptr<mp::bus::PeerGate> gate_;
  DisplayReservation displays_;
  mp::bus::Reactor::TimerId agent_check_ = 0;
  std::map<std::uint64_t, std::unique_ptr<Starting>> starting_;
  std::map<std::uint64_t, std::unique_ptr<Running>> running_;
  std::map<std::uint64_t, std::unique_ptr<Dying>> dying_;
};

}  // namespace mp::session
