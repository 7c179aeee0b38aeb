#include "supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mp/bus/endpoints.h"
#include "mp/service/privileges.h"

extern char** environ;

namespace mp::supervisor {

using namespace std::chrono;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::ServiceControl;
using mp::schema::ServiceState;

namespace {

std::int64_t realtime_ns() {
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

// The child's environment: ours, with the supervisor's dirs, and without systemd's notify
// socket (the supervisor is the unit systemd watches, not its children).
std::vector<std::string> child_environment(const SupervisorOptions& options) {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    std::string_view text(*entry);
    if (text.starts_with("MP_RUNTIME_DIR=") || text.starts_with("MP_STATE_DIR=") ||
        text.starts_with("NOTIFY_SOCKET=") || text.starts_with("WATCHDOG_")) {
      continue;
    }
    env.emplace_back(text);
  }
  env.push_back("MP_RUNTIME_DIR=" + options.runtime_dir.string());
  env.push_back("MP_STATE_DIR=" + options.state_dir.string());
  return env;
}

std::vector<char*> pointers_to(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Identity of the bus's request socket file, to tell a fresh one from a stale one.
struct SocketFile {
  bool exists = false;
  ino_t inode = 0;
  timespec changed{};
};

SocketFile socket_file(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return {};
  return SocketFile{true, st.st_ino, st.st_ctim};
}

bool same_file(const SocketFile& a, const SocketFile& b) {
  return a.exists == b.exists && a.inode == b.inode && a.changed.tv_sec == b.changed.tv_sec &&
         a.changed.tv_nsec == b.changed.tv_nsec;
}

}  // namespace

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "ended with status " + std::to_string(status);
}

Supervisor::Supervisor(zmq::context_t& context, mp::bus::Reactor& reactor,
                       SupervisorOptions options)
    : context_(context), reactor_(reactor), options_(std::move(options)) {
  for (const ServiceSpec& spec : options_.config.services) {
    services_.push_back(Service{.spec = spec, .policy = RestartPolicy(options_.config.restart)});
  }
  // The bus is first in every config (finish_services); the order below depends on it.
  if (services_.empty() || services_.front().spec.name != "bus") {
    throw std::logic_error("the supervisor's service list must start with the bus");
  }
}

Supervisor::~Supervisor() {
  if (resync_timer_) reactor_.cancel(resync_timer_);
  client_.reset();
  for (Service& service : services_) {
    if (service.restart_timer) reactor_.cancel(service.restart_timer);
    if (service.kill_timer) reactor_.cancel(service.kill_timer);
  }
  kill_all();
}

Supervisor::Service* Supervisor::find(std::string_view name) {
  for (Service& service : services_) {
    if (name == service.spec.name || name == "mp-" + service.spec.name) return &service;
  }
  return nullptr;
}

// Starting ------------------------------------------------------------------------------------

void Supervisor::make_service_users() {
  if (geteuid() != 0) return;
  for (const Service& service : services_) {
    const auto& user = service.spec.user;
    if (!user || user->empty()) continue;
    // Also makes the group mpoint, before the bus: mp-bus opens its runtime dir and sockets to
    // that group only if it exists when it starts.
    auto account = mp::service::ensure_system_user(*user);
    if (account.ok()) {
      spdlog::info("{} runs as system user {} (uid {})", service.spec.name, *user, account.uid);
    } else {
      // The service tries again itself and says why it cannot start.
      spdlog::error("{}: cannot make system user {}: {}", service.spec.name, *user, account.error);
    }
  }
}

bool Supervisor::start() {
  make_service_users();
  Service& bus_service = bus();
  const std::string endpoint = mp::bus::Endpoints::in_directory(options_.runtime_dir).requests;
  const std::string socket_path = endpoint.substr(std::string_view("ipc://").size());
  const SocketFile stale = socket_file(socket_path);

  start_now(bus_service);
  bus_service.state = ServiceState::STARTING;
  bool up = reactor_.run_until(
      [&] {
        if (bus_service.pid == 0) return false;  // crashed: the restart policy takes over
        SocketFile now = socket_file(socket_path);
        return now.exists && !same_file(now, stale);
      },
      options_.bus_start_timeout);
  if (reactor_.stopping()) return false;
  if (!up) {
    spdlog::critical("the bus did not create {} within {} ms", socket_path,
                     options_.bus_start_timeout.count());
    exit_code_ = 1;
    return false;
  }
  bus_service.state = ServiceState::RUNNING;
  join_bus();

  for (std::size_t i = 1; i < services_.size(); ++i) {
    Service& service = services_[i];
    start_now(service);
    // In order means the next one finds this one on the bus, as far as it registers at all.
    bool ready = reactor_.run_until(
        [&] { return service.state != ServiceState::RUNNING || service.incarnation != 0; },
        options_.config.ready_timeout);
    if (reactor_.stopping()) return false;
    if (!ready) {
      spdlog::info("{} did not register on the bus within {} ms; going on", service.spec.name,
                   options_.config.ready_timeout.count());
    }
  }
  spdlog::info("all {} services started", services_.size());
  return true;
}

void Supervisor::join_bus() {
  client_ = std::make_unique<mp::bus::Client>(
      context_, reactor_, mp::bus::Endpoints::in_directory(options_.runtime_dir),
      mp::bus::ClientOptions{.service = "supervisor"});
  client_->subscribe("bus.presence", [this](std::string_view, const mp::bus::Incoming& event) {
    on_presence(event);
  });
  client_->serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
    return handle_request(request, reply);
  });
  resync_timer_ = reactor_.every(seconds(1), [this] { resync_incarnations(); });
  resync_incarnations();  // the bus's own incarnation, at once
}

void Supervisor::start_now(Service& service) {
  if (service.restart_timer) {
    reactor_.cancel(service.restart_timer);
    service.restart_timer = 0;
  }
  if (!launch(service)) on_exit(service, service.last_exit);
}

bool Supervisor::launch(Service& service) {
  // Everything the child needs is prepared before fork: after it, only exec-safe calls.
  std::vector<std::string> args = command_line(service.spec);
  std::vector<std::string> env = child_environment(options_);
  std::vector<char*> argv = pointers_to(args);
  std::vector<char*> envp = pointers_to(env);
  int exec_pipe[2];
  if (pipe2(exec_pipe, O_CLOEXEC) != 0) {
    service.last_exit = std::string("cannot start: pipe: ") + strerror(errno);
    return false;
  }
  int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = getpid();

  pid_t pid = fork();
  if (pid == 0) {
    // The reactor blocks SIGTERM/SIGINT for its signalfd; the child must get them again.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setpgid(0, 0);  // a terminal's Ctrl-C reaches only the supervisor, which stops us in order
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(127);  // the supervisor died before prctl
    if (dev_null >= 0) dup2(dev_null, STDIN_FILENO);
    execve(argv[0], argv.data(), envp.data());
    int error = errno;
    ssize_t ignored = write(exec_pipe[1], &error, sizeof error);
    (void)ignored;
    _exit(127);
  }
  int fork_error = errno;
  close(exec_pipe[1]);
  if (dev_null >= 0) close(dev_null);
  if (pid < 0) {
    close(exec_pipe[0]);
    service.last_exit = std::string("cannot start: fork: ") + strerror(fork_error);
    return false;
  }
  setpgid(pid, pid);  // also here, so no signal to the group can race the child's own call

  int exec_error = 0;
  ssize_t n;
  do {
    n = read(exec_pipe[0], &exec_error, sizeof exec_error);
  } while (n < 0 && errno == EINTR);
  close(exec_pipe[0]);
  service.exec_error =
      n == static_cast<ssize_t>(sizeof exec_error)
          ? "cannot execute " + service.spec.binary.string() + ": " + strerror(exec_error)
          : std::string();

  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    service.last_exit = std::string("cannot watch the child: pidfd_open: ") + strerror(errno);
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    return false;
  }
  service.pid = pid;
  service.pidfd = pidfd;
  service.incarnation = 0;
  service.started_at_ns = realtime_ns();
  service.state = ServiceState::RUNNING;
  service.policy.started(steady_clock::now());
  Service* watched = &service;
  reactor_.watch_fd(pidfd, [this, watched] { on_child_readable(*watched); });
  if (service.exec_error.empty()) {
    spdlog::info("started {} (pid {}): {}", service.spec.name, pid, service.spec.binary.string());
  } else {
    spdlog::error("{}: {}", service.spec.name, service.exec_error);
  }
  return true;
}

// Exits -----------------------------------------------------------------------------------------

void Supervisor::on_child_readable(Service& service) {
  int status = 0;
  pid_t reaped = waitpid(service.pid, &status, WNOHANG);
  if (reaped == 0) return;  // not yet: a pidfd is readable only on exit, but be safe
  reactor_.unwatch_fd(service.pidfd);
  close(service.pidfd);
  service.pidfd = -1;
  std::string how =
      reaped < 0 ? "vanished (" + std::string(strerror(errno)) + ")" : describe_exit(status);
  if (!service.exec_error.empty()) how = service.exec_error;
  on_exit(service, how);
}

void Supervisor::on_exit(Service& service, const std::string& how) {
  const pid_t pid = service.pid;
  service.pid = 0;
  service.incarnation = 0;
  service.last_exit = how;
  if (service.kill_timer) {
    reactor_.cancel(service.kill_timer);
    service.kill_timer = 0;
  }

  if (shutting_down_ || service.stop_requested) {
    service.stop_requested = false;
    service.state = ServiceState::STOPPED;
    spdlog::info("{} (pid {}) stopped: {}", service.spec.name, pid, how);
    if (shutting_down_) {
      stop_next();
    } else if (service.restart_requested) {
      service.restart_requested = false;
      start_now(service);
    }
    return;
  }

  // Unasked, even with status 0: a service is meant to run until it is stopped.
  std::optional<milliseconds> delay = service.policy.crashed(steady_clock::now());
  if (!delay) {
    give_up(service);
    return;
  }
  service.state = ServiceState::BACKOFF;
  spdlog::warn("{} (pid {}) {}; restarting in {} ms", service.spec.name, pid, how, delay->count());
  Service* crashed = &service;
  service.restart_timer = reactor_.after(*delay, [this, crashed] {
    crashed->restart_timer = 0;
    ++crashed->restarts;
    start_now(*crashed);
  });
}

void Supervisor::give_up(Service& service) {
  service.state = ServiceState::FAILED;
  const RestartLimits& limits = options_.config.restart;
  std::string message = fmt::format(
      "{} restarted more than {} times within {:g} s; not restarting it (last: {})",
      service.spec.name, limits.max_restarts, limits.window.count() / 1000.0, service.last_exit);
  spdlog::error("{}", message);
  if (client_) {
    client_->publish("supervisor.alarm", [&](Envelope::Builder envelope) {
      auto alarm = envelope.initAlarm();
      alarm.setService(service.spec.name);
      alarm.setMessage(message);
    });
  }
  if (&service == &bus()) {
    spdlog::critical("cannot run without the bus; stopping everything");
    exit_code_ = 1;
    reactor_.stop();
  }
}

// Stopping --------------------------------------------------------------------------------------

void Supervisor::terminate(Service& service) {
  if (service.pid == 0) return;
  service.stop_requested = true;
  kill(service.pid, SIGTERM);
  if (service.kill_timer) return;
  Service* stopping = &service;
  service.kill_timer = reactor_.after(options_.config.stop_timeout, [this, stopping] {
    stopping->kill_timer = 0;
    if (stopping->pid == 0) return;
    spdlog::warn("{} (pid {}) ignored SIGTERM for {} ms; killing it", stopping->spec.name,
                 stopping->pid, options_.config.stop_timeout.count());
    kill(stopping->pid, SIGKILL);
  });
}

void Supervisor::stop_all() {
  shutting_down_ = true;
  if (resync_timer_) {
    reactor_.cancel(resync_timer_);
    resync_timer_ = 0;
  }
  for (Service& service : services_) {
    if (service.restart_timer) {
      reactor_.cancel(service.restart_timer);
      service.restart_timer = 0;
    }
    if (service.pid == 0 && service.state == ServiceState::BACKOFF) {
      service.state = ServiceState::STOPPED;
    }
  }
  auto any_running = [this] {
    return std::any_of(services_.begin(), services_.end(),
                       [](const Service& service) { return service.pid != 0; });
  };
  if (any_running()) {
    stop_next();
    // stop_next() stops the loop once the bus has gone; another signal stops it earlier.
    if (any_running()) reactor_.run();
  }
  if (any_running()) {
    spdlog::warn("asked again to stop; killing what is left");
    kill_all();
  }
  client_.reset();
  spdlog::info("every service has stopped");
}

void Supervisor::stop_next() {
  // One at a time, last started first: a service may still need the ones it started after.
  for (std::size_t i = services_.size(); i-- > 1;) {
    if (services_[i].pid != 0) {
      terminate(services_[i]);
      return;
    }
  }
  // Say goodbye while the bus is still there, so presence goes down at once.
  client_.reset();
  if (bus().pid != 0) {
    terminate(bus());
    return;
  }
  reactor_.stop();
}

void Supervisor::kill_all() {
  for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
    Service& service = *it;
    if (service.pid == 0) continue;
    kill(service.pid, SIGKILL);
    int status = 0;
    waitpid(service.pid, &status, 0);
    reactor_.unwatch_fd(service.pidfd);
    close(service.pidfd);
    service.pidfd = -1;
    service.pid = 0;
    service.state = ServiceState::STOPPED;
    service.last_exit = describe_exit(status);
  }
}

// The bus side ---------------------------------------------------------------------------------

bool Supervisor::handle_request(const mp::bus::Incoming& request, Envelope::Builder reply) {
  auto envelope = request.envelope();
  switch (envelope.which()) {
    case Envelope::STATUS_REQUEST:
      fill_status(reply.initStatusReport());
      return true;
    case Envelope::SERVICE_CONTROL: {
      auto command = envelope.getServiceControl();
      std::string name = command.getService();
      Service* service = find(name);
      if (service == nullptr) {
        std::string known;
        for (const Service& s : services_) known += (known.empty() ? "" : ", ") + s.spec.name;
        mp::bus::set_error(reply, Error::Kind::INVALID,
                           "no service named '" + name + "' (supervised: " + known + ")");
        return true;
      }
      control(*service, command.getAction(), reply);
      return true;
    }
    case Envelope::POWER_REQUEST:
      power(envelope.getPowerRequest().getAction(), reply);
      return true;
    default:
      return false;
  }
}

void Supervisor::fill_status(mp::schema::StatusReport::Builder report) {
  auto list = report.initServices(static_cast<unsigned>(services_.size()));
  for (std::size_t i = 0; i < services_.size(); ++i) {
    const Service& service = services_[i];
    auto entry = list[static_cast<unsigned>(i)];
    entry.setName(service.spec.name);
    entry.setPid(static_cast<std::uint32_t>(service.pid));
    entry.setIncarnation(service.incarnation);
    entry.setState(service.state);
    entry.setStartedAtNs(service.pid != 0 ? service.started_at_ns : 0);
    entry.setRestarts(service.restarts);
    entry.setLastExit(service.last_exit);
  }
}

void Supervisor::control(Service& service, ServiceControl::Action action, Envelope::Builder reply) {
  if (shutting_down_) {
    mp::bus::set_error(reply, Error::Kind::UNAVAILABLE, "the supervisor is shutting down");
    return;
  }
  const bool is_bus = &service == &bus();
  const std::string& name = service.spec.name;
  auto ack = [&](const std::string& detail) {
    spdlog::info("operator: {}", detail);
    reply.initAck().setDetail(detail);
  };
  // The bus carries this very reply: let it leave before the bus goes down.
  auto terminate_soon = [this, is_bus](Service& target) {
    if (!is_bus) {
      terminate(target);
      return;
    }
    target.stop_requested = true;
    Service* later = &target;
    reactor_.after(milliseconds(200), [this, later] { terminate(*later); });
  };
  switch (action) {
    case ServiceControl::Action::START:
      if (service.pid != 0 && !service.stop_requested) {
        ack(name + " is already running (pid " + std::to_string(service.pid) + ")");
      } else if (service.pid != 0) {
        service.restart_requested = true;
        ack(name + " is stopping; it starts again once it has stopped");
      } else {
        service.policy.reset();
        start_now(service);
        ack(name + " started");
      }
      return;
    case ServiceControl::Action::STOP:
      if (is_bus) {
        mp::bus::set_error(reply, Error::Kind::DENIED,
                           "the bus carries every request, including the one to start it again; "
                           "restart it instead of stopping it");
        return;
      }
      service.restart_requested = false;
      if (service.restart_timer) {
        reactor_.cancel(service.restart_timer);
        service.restart_timer = 0;
      }
      if (service.pid != 0) {
        terminate_soon(service);
        ack(name + " stopping");
      } else {
        service.state = ServiceState::STOPPED;
        ack(name + " is already stopped");
      }
      return;
    case ServiceControl::Action::RESTART:
      service.policy.reset();
      if (service.pid != 0) {
        service.restart_requested = true;
        terminate_soon(service);
        ack(name + " restarting");
      } else {
        start_now(service);
        ack(name + " started");
      }
      return;
    default:
      mp::bus::set_error(reply, Error::Kind::INVALID,
                         "serviceControl needs an action: start, stop or restart");
      return;
  }
}

void Supervisor::on_presence(const mp::bus::Incoming& event) {
  auto envelope = event.envelope();
  if (!envelope.isPresence()) return;
  auto presence = envelope.getPresence();
  std::string name = presence.getService();
  Service* service = nullptr;
  for (Service& s : services_) {
    if (s.spec.name == name) service = &s;
  }
  if (service == nullptr || service->pid == 0) return;
  if (presence.getState() == mp::schema::Presence::State::UP) {
    // A late "up" from a previous incarnation must not be taken for the current one.
    if (presence.getPid() != 0 && presence.getPid() != static_cast<std::uint32_t>(service->pid)) {
      return;
    }
    service->incarnation = presence.getIncarnation();
    spdlog::debug("{} is on the bus (incarnation {:016x})", name, service->incarnation);
  } else if (presence.getState() == mp::schema::Presence::State::DOWN &&
             presence.getIncarnation() == service->incarnation) {
    service->incarnation = 0;
  }
}

void Supervisor::resync_incarnations() {
  // Presence events published before our subscription reached the broker are lost; the
  // broker's status fills the gaps (and tells the bus's own incarnation).
  if (!client_ || resync_in_flight_) return;
  bool missing = std::any_of(services_.begin(), services_.end(), [](const Service& s) {
    return s.pid != 0 && s.incarnation == 0 && s.exec_error.empty();
  });
  if (!missing) return;
  resync_in_flight_ = true;
  client_->request(
      "bus", [](Envelope::Builder envelope) { envelope.initBusStatusRequest(); },
      mp::bus::RequestOptions{.deadline = milliseconds(900)},
      [this](mp::bus::Reply reply) {
        resync_in_flight_ = false;
        if (!reply.ok() || !reply.envelope().isBusStatus()) return;
        auto status = reply.envelope().getBusStatus();
        if (bus().pid != 0) bus().incarnation = status.getIncarnation();
        for (auto entry : status.getServices()) {
          for (Service& service : services_) {
            if (service.spec.name == entry.getName().cStr() && service.pid != 0 &&
                entry.getPid() == static_cast<std::uint32_t>(service.pid)) {
              service.incarnation = entry.getIncarnation();
            }
          }
        }
      });
}

}  // namespace mp::supervisor
