#include "display_starter.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <utility>

#include "session_processes.h"

namespace mp::session {

using namespace std::chrono;

namespace {

// Display numbers looked at for a free one (checking is cheap; starting Xvfb is not).
constexpr int kDisplaysScanned = 1000;
// Between TERM and KILL for an Xvfb that did not come up in time, or whose start was abandoned:
// a TERMed X server removes its lock file, so its display number is not lost.
constexpr milliseconds kEndGrace{1000};

}  // namespace

DisplayStarter::DisplayStarter(mp::bus::Reactor& reactor, const DesktopLauncher& launcher,
                               SessionFiles files, UnixAccount account, std::uint16_t width,
                               std::uint16_t height, Taken taken, Checks checks, Done done)
    : reactor_(reactor),
      launcher_(launcher),
      files_(std::move(files)),
      account_(std::move(account)),
      width_(width),
      height_(height),
      taken_(std::move(taken)),
      checks_(std::move(checks)),
      done_(std::move(done)),
      cookie_(random_cookie()),
      next_number_(launcher.config().first_display),
      last_error_("no free display from :" + std::to_string(next_number_) +
                  " to :" + std::to_string(next_number_ + kDisplaysScanned - 1)) {}

DisplayStarter::~DisplayStarter() { abandon_attempt(); }

void DisplayStarter::start() { try_next(); }

void DisplayStarter::try_next() {
  const DesktopConfig& config = launcher_.config();
  const int end = config.first_display + kDisplaysScanned;
  while (next_number_ < end && attempts_ < config.display_attempts) {
    int number = next_number_++;
    std::string display = ":" + std::to_string(number);
    if (taken_(display)) continue;
    bool usable = checks_.usable ? checks_.usable(number) : !display_held_by_another_server(number);
    if (!usable) continue;
    ++attempts_;
    auto spawned = launcher_.spawn_display(files_, account_, width_, height_, number, cookie_);
    if (auto* error = std::get_if<std::string>(&spawned)) {
      finish(*error);
      return;
    }
    const SpawnedDisplay& xvfb = std::get<SpawnedDisplay>(spawned);
    display_ = display;
    pid_ = xvfb.display.pid;
    pidfd_ = xvfb.display.pidfd;
    ready_fd_ = xvfb.ready_fd;
    written_.clear();
    // Ready when it writes its number; failed when it exits first (its pidfd becomes readable)
    // or stays silent past the timeout.
    reactor_.watch_fd(ready_fd_, [this] { on_ready_readable(); });
    if (pidfd_ >= 0) {
      reactor_.watch_fd(pidfd_, [this] { attempt_failed("it exited"); });
    }
    timeout_ = reactor_.after(config.display_timeout, [this] { on_timeout(); });
    return;
  }
  finish(last_error_);
}

void DisplayStarter::on_ready_readable() {
  char buffer[32];
  while (true) {
    ssize_t n = read(ready_fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // the rest comes later
    if (n <= 0) {
      attempt_failed("it closed -displayfd");
      return;
    }
    written_.append(buffer, static_cast<std::size_t>(n));
    if (written_.find('\n') != std::string::npos) break;
  }
  int number = std::stoi(display_.substr(1));
  if (checks_.held_by && !checks_.held_by(number, pid_)) {
    // Someone else got the abstract socket first: clients of this display would reach them.
    attempt_failed("another process listens on its abstract socket");
    return;
  }
  StartedDisplay started{.display = display_, .pid = pid_, .pidfd = pidfd_};
  // The pid and pidfd now belong to the receiver; only our watches and the pipe go.
  if (pidfd_ >= 0) reactor_.unwatch_fd(pidfd_);
  pid_ = -1;
  pidfd_ = -1;
  abandon_attempt();
  spdlog::info("display {} up (Xvfb pid {}, {}x{})", started.display, started.pid, width_, height_);
  finish(std::move(started));
}

void DisplayStarter::on_timeout() {
  timeout_ = 0;
  attempt_failed("no answer within " + std::to_string(launcher_.config().display_timeout.count()) +
                 " ms");
}

void DisplayStarter::attempt_failed(const std::string& why) {
  std::string display = display_;
  abandon_attempt();
  std::string output = launcher_.display_log(files_);
  last_error_ = "Xvfb on " + display + " did not come up (" + why + "): " + output;
  spdlog::warn("{}", last_error_);
  if (output.find("already active") != std::string::npos ||
      output.find("server already running") != std::string::npos ||
      why.find("abstract socket") != std::string::npos) {
    try_next();  // someone else's server: try the next number
    return;
  }
  finish(last_error_);
}

void DisplayStarter::abandon_attempt() {
  if (timeout_ != 0) reactor_.cancel(timeout_);
  timeout_ = 0;
  if (ready_fd_ >= 0) {
    reactor_.unwatch_fd(ready_fd_);
    close(ready_fd_);
    ready_fd_ = -1;
  }
  if (pid_ > 0) {
    // Xvfb leads a Unix session of its own (and so does a wrapper script with its children).
    end_sessions_blocking({pid_}, std::nullopt, kEndGrace);
    pid_ = -1;
  }
  if (pidfd_ >= 0) {
    reactor_.unwatch_fd(pidfd_);
    reap(pidfd_);
    close(pidfd_);
    pidfd_ = -1;
  }
  display_.clear();
}

void DisplayStarter::finish(std::variant<StartedDisplay, std::string> result) {
  Done done = std::exchange(done_, nullptr);
  if (done) done(std::move(result));  // may destroy this
}

}  // namespace mp::session
