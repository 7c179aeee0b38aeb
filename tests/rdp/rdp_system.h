// Real components for mp-rdp tests: mp-bus, a stub mp-session (in this process), a session
// Xvfb running mp-workload --pattern --print-input, mp-rdp on a free port, and an Xvfb for the
// real xfreerdp client to draw into. As root, mp-rdp runs as its own system user `mp-rdp`, as
// in production: the test's directory is passable, and the stub hands out a copy of the
// session's cookie that group mpoint may read, as mp-session does.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "screen_checks.h"
#include "stub_session.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "xvfb.h"

namespace mp::test {

inline constexpr int kSessionWidth = 1024;
inline constexpr int kSessionHeight = 768;
inline constexpr const char* kUser = "alice";
inline constexpr const char* kPassword = "correct horse";

// Why these tests cannot run here, or empty.
std::string missing_rdp_prerequisites();

class RdpSystem {
 public:
  explicit RdpSystem(std::vector<std::string> rdp_args = {});
  ~RdpSystem();

  void start_rdp();
  void kill9_rdp();
  bool rdp_running() { return rdp_ && rdp_->running(); }
  pid_t rdp_pid() const { return rdp_ ? rdp_->pid() : 0; }
  std::string rdp_log() const;
  std::string workload_log() const;
  int port() const { return port_; }
  StubSession& session() { return *session_; }
  void restart_session();
  Xvfb& session_display() { return *session_display_; }
  // The session display's cookie as the stub hands it to mp-rdp (root:mpoint 0640 as root).
  const std::filesystem::path& transport_xauthority() const { return transport_xauthority_; }
  Xvfb& client_display() { return *client_display_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  const std::filesystem::path& runtime_dir() const { return runtime_dir_; }
  const std::filesystem::path& state_dir() const { return state_dir_; }

  // xfreerdp's arguments for this server: /v, /u, /p, /cert:ignore, /size, then `extra`.
  std::vector<std::string> client_args(const std::vector<std::string>& extra,
                                       const std::string& password = kPassword) const;
  std::unique_ptr<ChildProcess> start_client(const std::vector<std::string>& extra,
                                             const std::string& log_name);
  RunResult run_client(const std::vector<std::string>& args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // Polls the client's screen until it shows the session's test pattern (see
  // tools/workload/test_pattern.h) within `tolerance` per channel; saves the last screenshot
  // as PNG to `png` when given. Returns the number of mismatching sample points (0: match).
  int wait_for_pattern(std::chrono::milliseconds timeout, int tolerance,
                       const std::filesystem::path& png = {});

 private:
  TempDir dir_{"mprdp"};
  std::filesystem::path runtime_dir_;
  std::filesystem::path state_dir_;
  std::filesystem::path transport_xauthority_;
  std::vector<std::string> rdp_args_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> bus_;
  std::unique_ptr<StubSession> session_;
  std::unique_ptr<Xvfb> session_display_;
  std::unique_ptr<ChildProcess> workload_;
  std::unique_ptr<Xvfb> client_display_;
  std::unique_ptr<ChildProcess> rdp_;
};

}  // namespace mp::test
