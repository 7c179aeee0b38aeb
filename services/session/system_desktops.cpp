#include "system_desktops.h"

#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <random>

namespace mp::session {

using namespace std::chrono;

namespace {

std::uint64_t random_incarnation() {
  std::random_device device;
  std::uint64_t value = (std::uint64_t(device()) << 32) ^ device();
  return value == 0 ? 1 : value;
}

// True if `pid` is the mp-agent started for `session_id` (after a restart we only take over
// the agent we started, never an unrelated process that got its pid).
bool is_agent_of(pid_t pid, std::uint64_t session_id) {
  if (!process_alive(pid)) return false;
  auto args = command_line(pid);
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--session-id" && args[i + 1] == std::to_string(session_id)) return true;
  }
  return false;
}

}  // namespace

SystemDesktops::SystemDesktops(mp::bus::Context& context, mp::bus::Reactor& reactor,
                               UnixAccounts& accounts, DesktopLauncher& launcher,
                               SystemDesktopsOptions options)
    : context_(context),
      reactor_(reactor),
      accounts_(accounts),
      launcher_(launcher),
      options_(options),
      incarnation_(random_incarnation()),
      displays_(
          accounts.manages_accounts(), options_.is_own_student
                                           ? options_.is_own_student
                                           : [](uid_t uid) { return is_multipoint_account(uid); }) {
  if (!options_.supervise_agents) return;  // the one-shot: no agents, no channels to guard
  if (options_.gate_agents) {
    gate_ = std::make_unique<mp::bus::PeerGate>(
        context_, reactor_, [this](const std::string& domain, const mp::bus::IpcPeer& peer) {
          return agent_may_connect(domain, peer);
        });
  }
  agent_check_ = reactor_.every(std::chrono::seconds(1), [this] { check_agents(); });
}

namespace {

std::string gate_domain(std::uint64_t session_id) {
  return "session-" + std::to_string(session_id);
}

}  // namespace

bool SystemDesktops::agent_may_connect(const std::string& domain,
                                       const mp::bus::IpcPeer& peer) const {
  // The agent runs as the student, who may run anything else too: what tells the agent apart
  // is the process mp-session started, whose pid the kernel reports for the connection.
  for (const auto& [id, running] : running_) {
    if (gate_domain(id) != domain) continue;
    return running->agent && peer.pid == static_cast<pid_t>(running->record.processes.agent);
  }
  return false;
}

void SystemDesktops::check_agents() {
  auto now = steady_clock::now();
  for (auto& [id, running] : running_) {
    if (!running->agent || !running->channel) continue;
    auto pid = static_cast<pid_t>(running->record.processes.agent);
    auto heard = std::max(running->channel->last_heartbeat(), running->agent_started_at);
    const char* why = nullptr;
    if (process_stopped(pid)) {
      why = "is stopped (SIGSTOP or a tracer)";
    } else if (now - heard > options_.agent_silent_limit) {
      why = "does not heartbeat";
    }
    if (why == nullptr) continue;
    // Its exit (pidfd) restarts it, with the usual backoff if this keeps happening.
    spdlog::warn("session {}: agent {} {}: killed", id, pid, why);
    kill(pid, SIGKILL);
  }
}

SystemDesktops::~SystemDesktops() {
  // Nothing recorded these yet: left running, no later mp-session would know them.
  for (auto& [id, starting] : starting_) {
    starting->display.reset();
    launcher_.remove_files(id);
  }
  starting_.clear();
  for (auto& [id, running] : running_) reactor_.cancel(running->agent_timer);
  running_.clear();  // channels close; the processes go on running
  reactor_.cancel(agent_check_);
  // Sessions that were being logged off: finish the job now rather than leave them half-ended.
  for (auto& [id, dying] : dying_) {
    reactor_.cancel(dying->timer);
    signal_processes(dying->sessions, dying->uid, SIGKILL);
    launcher_.remove_files(id);
  }
  dying_.clear();
}

std::string SystemDesktops::add_user(const std::string& name) {
  auto account = accounts_.ensure(name);
  if (auto* error = std::get_if<std::string>(&account)) return *error;
  return "";
}

std::string SystemDesktops::remove_user(const std::string& name) { return accounts_.lock(name); }

std::optional<uid_t> SystemDesktops::owner_of(const UnixAccount& account) const {
  if (!accounts_.manages_accounts()) return std::nullopt;
  return account.uid;
}

AgentStateWanted SystemDesktops::wanted(const Running& running) const {
  auto lock =
      policy_ ? policy_->lock_of(running.record.station_key) : mp::stationlocks::StationLock{};
  return AgentStateWanted{.locked = lock.locked,
                          .lock_message = lock.message,
                          .privacy_notice = running.privacy_notice};
}

std::unique_ptr<AgentChannel> SystemDesktops::open_channel(std::uint64_t id,
                                                           const SessionFiles& files,
                                                           const UnixAccount& account) {
  AgentChannel::Events events{
      .up_changed =
          [this, id](bool up) {
            if (running_.contains(id) && events_.agent_up) events_.agent_up(id, up);
          },
      .reply =
          [this, id](std::uint64_t message_id, const std::string& text) {
            if (events_.reply) events_.reply(id, message_id, text);
          },
      .notice_acknowledged =
          [this, id] {
            if (events_.notice_acknowledged) events_.notice_acknowledged(id);
          },
      .thumbnail =
          [this, id](mp::schema::AgentThumbnail::Reader thumbnail) {
            if (events_.thumbnail) events_.thumbnail(id, thumbnail);
          },
  };
  AgentChannel::Options options = options_.channel;
  if (gate_) options.gate_domain = gate_domain(id);
  return std::make_unique<AgentChannel>(context_, reactor_, files.agent_socket, owner_of(account),
                                        id, incarnation_, std::move(events), options);
}

void SystemDesktops::watch_display(Running& running, int pidfd, pid_t pid) {
  std::uint64_t id = running.record.id;
  running.xvfb = std::make_unique<ProcessWatch>(reactor_, pidfd, pid, [this, id] {
    if (!running_.contains(id)) return;
    spdlog::warn("session {}: its display server exited", id);
    if (events_.ended) events_.ended(id, "its display server exited");
  });
}

void SystemDesktops::watch_session_command(Running& running, int pidfd, pid_t pid) {
  std::uint64_t id = running.record.id;
  running.session = std::make_unique<ProcessWatch>(reactor_, pidfd, pid, [this, id] {
    if (!running_.contains(id)) return;
    spdlog::info("session {}: the session command exited", id);
    if (events_.ended) events_.ended(id, "the desktop session exited");
  });
}

void SystemDesktops::watch_agent(Running& running, int pidfd, pid_t pid) {
  std::uint64_t id = running.record.id;
  running.record.processes.agent = pid;
  running.agent =
      std::make_unique<ProcessWatch>(reactor_, pidfd, pid, [this, id] { agent_exited(id); });
}

void SystemDesktops::start_agent(std::uint64_t id) {
  auto it = running_.find(id);
  if (it == running_.end() || !options_.supervise_agents) return;
  Running& running = *it->second;
  running.agent_timer = 0;
  running.agent_started_at = steady_clock::now();
  SpawnResult agent =
      launcher_.start_agent(running.files, running.account, running.record.display, id);
  if (agent.pid < 0 || agent.pidfd < 0) {
    spdlog::error("session {}: cannot start the agent: {}", id, agent.error);
    agent_exited(id);  // counts as a quick death: retried with backoff
    return;
  }
  spdlog::info("session {}: agent started (pid {})", id, agent.pid);
  watch_agent(running, agent.pidfd, agent.pid);
  if (events_.agent_started) events_.agent_started(id, agent.pid);
}

void SystemDesktops::agent_exited(std::uint64_t id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  Running& running = *it->second;
  running.agent.reset();  // may be the watch whose callback runs now: it allows that
  auto lived = steady_clock::now() - running.agent_started_at;
  running.agent_failures = lived >= options_.agent_stable_after ? 1 : running.agent_failures + 1;
  // The first death is answered at once (a killed agent of a locked station must show the lock
  // again within a second); a crash loop waits longer each time.
  milliseconds delay{0};
  if (running.agent_failures > 1) {
    int shift = std::min(running.agent_failures - 2, 10);
    delay = std::min(milliseconds(500) * (1 << shift), options_.max_agent_backoff);
  }
  spdlog::warn("session {}: agent exited; restarting in {} ms", id, delay.count());
  if (delay.count() == 0) {
    start_agent(id);
  } else {
    running.agent_timer = reactor_.after(delay, [this, id] { start_agent(id); });
  }
}

void SystemDesktops::start(const SessionRecord& record, const std::set<std::string>& taken,
                           const std::string& privacy_notice, Started done) {
  auto found = accounts_.ensure(record.user);
  if (auto* error = std::get_if<std::string>(&found)) {
    done(*error);
    return;
  }
  UnixAccount account = std::get<UnixAccount>(found);
  if (auto e = launcher_.prepare(record.id, account); !e.empty()) {
    done(e);
    return;
  }
  auto starting = std::make_unique<Starting>();
  starting->record = record;
  starting->account = account;
  starting->files = launcher_.files(record.id);
  starting->files.user = record.user;
  starting->privacy_notice = privacy_notice;
  starting->taken = taken;
  starting->done = std::move(done);
  std::uint64_t id = record.id;
  starting->display = std::make_unique<DisplayStarter>(
      reactor_, launcher_, starting->files, account, record.width, record.height,
      [this, id](const std::string& display) { return display_taken(display, id); },
      DisplayStarter::Checks{
          .usable = [this](int number) { return displays_.clear_for_use(number); },
          .held_by = [this](int number, pid_t xvfb) { return displays_.held_by(number, xvfb); }},
      [this, id](std::variant<StartedDisplay, std::string> display) {
        display_started(id, std::move(display));
      });
  starting_[id] = std::move(starting);
  if (!admission_ || !accounts_.manages_accounts()) {
    starting_[id]->display->start();
    return;
  }
  // Before any process of the session runs: its user's web traffic must already be filtered,
  // or an autostart program could reach anything in the first second.
  admission_(account, [this, id](const std::string& error) {
    auto it = starting_.find(id);
    if (it == starting_.end()) return;  // abandoned meanwhile
    if (error.empty()) {
      it->second->display->start();
      return;
    }
    spdlog::error("session {}: {}", id, error);
    Started failed = std::move(it->second->done);
    starting_.erase(it);
    launcher_.remove_files(id);
    failed(error);
  });
}

void SystemDesktops::cancel_start(std::uint64_t id) {
  auto it = starting_.find(id);
  if (it == starting_.end()) return;
  spdlog::info("session {}: desktop start abandoned", id);
  starting_.erase(it);  // its DisplayStarter ends the Xvfb being tried
  launcher_.remove_files(id);
}

bool SystemDesktops::display_taken(const std::string& display, std::uint64_t starting_id) const {
  if (auto it = starting_.find(starting_id); it != starting_.end()) {
    if (it->second->taken.contains(display)) return true;
  }
  for (const auto& [id, other] : starting_) {
    if (id != starting_id && other->display && other->display->display() == display) return true;
  }
  for (const auto& [id, running] : running_) {
    if (running->record.display == display) return true;
  }
  return false;
}

void SystemDesktops::display_started(std::uint64_t id,
                                     std::variant<StartedDisplay, std::string> display) {
  auto it = starting_.find(id);
  if (it == starting_.end()) return;
  // Ours now; its DisplayStarter, whose callback this is, goes when this function returns.
  std::unique_ptr<Starting> starting = std::move(it->second);
  starting_.erase(it);
  Started done = std::move(starting->done);
  std::string error;
  if (auto* failed = std::get_if<std::string>(&display)) {
    error = *failed;
  } else {
    error = start_on_display(*starting, std::get<StartedDisplay>(display));
  }
  if (!error.empty()) {
    launcher_.remove_files(id);
    done(error);
    return;
  }
  done(starting->record);
}

std::string SystemDesktops::start_on_display(Starting& starting, const StartedDisplay& started) {
  SessionRecord& record = starting.record;
  const UnixAccount& account = starting.account;
  const SessionFiles& files = starting.files;
  auto give_up = [&](const std::string& why) {
    end_sessions_blocking({started.pid}, std::nullopt, milliseconds(1000));
    reap(started.pidfd);
    close(started.pidfd);
    return why;
  };
  SpawnResult session = launcher_.start_session_command(files, account, started.display);
  if (session.pid < 0 || session.pidfd < 0) {
    return give_up("cannot start the session command: " + session.error);
  }
  record.display = started.display;
  record.unix_user = account.name;
  // The transports' copy: they may run as system users of their own (mp-rdp), which read it
  // through group mpoint; the student's own file is for the session's programs.
  record.xauthority = files.transport_xauthority.string();
  record.processes = DesktopProcesses{.xvfb = started.pid, .session = session.pid};

  auto running = std::make_unique<Running>();
  running->record = record;
  running->account = account;
  running->files = files;
  running->privacy_notice = starting.privacy_notice;
  try {
    running->channel = open_channel(record.id, files, account);
  } catch (const std::exception& e) {
    end_sessions_blocking({session.pid}, std::nullopt, milliseconds(1000));
    reap(session.pidfd);
    close(session.pidfd);
    return give_up(e.what());
  }
  running->channel->set_state(wanted(*running));
  watch_display(*running, started.pidfd, started.pid);
  watch_session_command(*running, session.pidfd, session.pid);
  std::uint64_t id = record.id;
  running_[id] = std::move(running);
  // Not through the agent_started event: the caller stores the record with its agent's pid.
  auto saved_event = std::move(events_.agent_started);
  events_.agent_started = nullptr;
  start_agent(id);
  events_.agent_started = std::move(saved_event);
  record.processes.agent = running_[id]->record.processes.agent;
  spdlog::info("session {}: desktop of {} on {} (Xvfb {}, session {}, agent {})", id, account.name,
               record.display, started.pid, session.pid, record.processes.agent);
  return "";
}

bool SystemDesktops::adopt(const SessionRecord& record, const std::string& privacy_notice) {
  auto gone = [&](const std::string& why) {
    spdlog::warn("session {} on {} cannot be adopted: {}", record.id, record.display, why);
    end(record);  // whatever is left of it
    return false;
  };
  pid_t xvfb = static_cast<pid_t>(record.processes.xvfb);
  pid_t session = static_cast<pid_t>(record.processes.session);
  if (!is_display_server(xvfb, record.display)) return gone("its display server is gone");
  auto found = accounts_.lookup(record.user);
  if (auto* error = std::get_if<std::string>(&found)) return gone(*error);
  UnixAccount account = std::get<UnixAccount>(found);
  if (accounts_.manages_accounts() && process_uid(xvfb) != account.uid) {
    return gone("its display server runs as another user");
  }
  if (!process_alive(session)) return gone("its session command is gone");
  int xvfb_fd = open_pidfd(xvfb);
  int session_fd = open_pidfd(session);
  if (xvfb_fd < 0 || session_fd < 0) {
    if (xvfb_fd >= 0) close(xvfb_fd);
    if (session_fd >= 0) close(session_fd);
    return gone("it exited while being adopted");
  }
  auto running = std::make_unique<Running>();
  running->record = record;
  running->account = account;
  running->files = launcher_.files(record.id);
  running->privacy_notice = privacy_notice;
  // /run survives a restart of mp-session, so the transports' cookie should still be there; if
  // someone removed it, the desktop goes on and the copy comes back from the student's file.
  if (std::string why = launcher_.ensure_transport_cookie(running->files, record.display);
      !why.empty()) {
    spdlog::warn("session {}: transports may not reach {}: {}", record.id, record.display, why);
  }
  watch_display(*running, xvfb_fd, xvfb);
  watch_session_command(*running, session_fd, session);
  try {
    running->channel = open_channel(record.id, running->files, account);
  } catch (const std::exception& e) {
    running_[record.id] = std::move(running);  // so that end() stops watching it
    return gone(e.what());
  }
  running->channel->set_state(wanted(*running));
  // The agent reconnects by itself; until it proves otherwise the record's agentUp stands.
  if (record.agent_up) running->channel->assume_up();
  std::uint64_t id = record.id;
  pid_t agent = static_cast<pid_t>(record.processes.agent);
  bool agent_alive = is_agent_of(agent, id);
  int agent_fd = agent_alive ? open_pidfd(agent) : -1;
  running_[id] = std::move(running);
  if (agent_fd >= 0) {
    running_[id]->agent_started_at = steady_clock::now();
    watch_agent(*running_[id], agent_fd, agent);
  } else {
    start_agent(id);
  }
  spdlog::info("session {}: adopted the desktop of {} on {} (Xvfb {}, agent {})", id, record.user,
               record.display, xvfb, running_[id]->record.processes.agent);
  return true;
}

void SystemDesktops::changed(const SessionRecord& record) {
  if (record.state == mp::schema::SessionState::ENDED) {
    end(record);
    return;
  }
  auto it = running_.find(record.id);
  if (it == running_.end()) return;
  Running& running = *it->second;
  running.record.station_key = record.station_key;
  running.record.state = record.state;
  running.channel->set_state(wanted(running));
}

void SystemDesktops::policy_changed() {
  for (auto& [id, running] : running_) running->channel->set_state(wanted(*running));
}

void SystemDesktops::set_privacy_notice(std::uint64_t id, const std::string& text) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  it->second->privacy_notice = text;
  it->second->channel->set_state(wanted(*it->second));
}

AgentChannel* SystemDesktops::running_channel(std::uint64_t id, std::string* reason) {
  auto it = running_.find(id);
  if (it == running_.end()) {
    if (reason) *reason = "the session has no running desktop";
    return nullptr;
  }
  return it->second->channel.get();
}

bool SystemDesktops::show_message(std::uint64_t id, std::uint64_t message_id,
                                  const std::string& from, const std::string& text,
                                  std::string* reason) {
  auto* channel = running_channel(id, reason);
  return channel != nullptr && channel->show_message(message_id, from, text, reason);
}

bool SystemDesktops::request_thumbnails(std::uint64_t id, const ThumbnailRequest& request,
                                        std::string* reason) {
  auto* channel = running_channel(id, reason);
  return channel != nullptr && channel->request_thumbnails(request, reason);
}

bool SystemDesktops::send_input(std::uint64_t id,
                                capnp::List<mp::schema::InputEvent>::Reader events,
                                std::string* reason) {
  auto* channel = running_channel(id, reason);
  return channel != nullptr && channel->send_input(events, reason);
}

const AgentChannel* SystemDesktops::channel(std::uint64_t id) const {
  auto it = running_.find(id);
  return it == running_.end() ? nullptr : it->second->channel.get();
}

void SystemDesktops::end(const SessionRecord& record) {
  std::uint64_t id = record.id;
  if (dying_.contains(id)) return;
  auto dying = std::make_unique<Dying>();
  DesktopProcesses processes = record.processes;
  std::optional<UnixAccount> account;
  if (auto it = running_.find(id); it != running_.end()) {
    Running& running = *it->second;
    reactor_.cancel(running.agent_timer);
    processes = running.record.processes;
    account = running.account;
    running.channel.reset();
    for (auto* watch : {&running.xvfb, &running.session, &running.agent}) {
      if (*watch) dying->watches.push_back(std::move(*watch));
    }
    for (auto& [pid, watch] : running.apps) {
      dying->sessions.insert(pid);
      dying->watches.push_back(std::move(watch));
    }
    running_.erase(it);
  } else if (auto found = accounts_.lookup(record.user);
             std::holds_alternative<UnixAccount>(found)) {
    account = std::get<UnixAccount>(found);
  }
  for (std::int64_t pid : {processes.xvfb, processes.session, processes.agent}) {
    if (pid > 0) dying->sessions.insert(static_cast<pid_t>(pid));
  }
  // As root the user's every process goes too (daemons a desktop starts leave its process
  // group), unless another running session belongs to the same account.
  if (account && accounts_.manages_accounts() && account->uid != 0) {
    bool shared = false;
    for (const auto& [other, running] : running_) shared |= running->account.uid == account->uid;
    if (!shared) dying->uid = account->uid;
  }
  std::size_t signalled = signal_processes(dying->sessions, dying->uid, SIGTERM);
  spdlog::info("session {}: ending ({} processes sent TERM)", id, signalled);
  dying->kill_at = steady_clock::now() + options_.end_grace;
  dying->timer = reactor_.every(milliseconds(100), [this, id] { check_dying(id); });
  dying_[id] = std::move(dying);
}

void SystemDesktops::check_dying(std::uint64_t id) {
  auto it = dying_.find(id);
  if (it == dying_.end()) return;
  Dying& d = *it->second;
  if (signal_processes(d.sessions, d.uid, 0) == 0) {
    forget_dying(id);
  } else if (!d.killed && steady_clock::now() >= d.kill_at) {
    d.killed = true;
    std::size_t n = signal_processes(d.sessions, d.uid, SIGKILL);
    spdlog::warn("session {}: {} processes still there after {} ms: KILL", id, n,
                 options_.end_grace.count());
  } else if (d.killed && steady_clock::now() >= d.kill_at + seconds(3)) {
    spdlog::error("session {}: processes survive KILL; giving up on them", id);
    forget_dying(id);
  }
}

void SystemDesktops::forget_dying(std::uint64_t id) {
  auto it = dying_.find(id);
  if (it == dying_.end()) return;
  reactor_.cancel(it->second->timer);
  launcher_.remove_files(id);
  dying_.erase(it);  // the watches reap our children that exited
  spdlog::info("session {}: ended", id);
}

}  // namespace mp::session
