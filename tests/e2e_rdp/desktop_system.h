// The system as `./mp up` runs it — mp-supervisor with bus, session (real desktops running
// mp-workload --pattern --print-input), policy and rdp — on a private runtime dir and port, a
// multipoint user (a real Linux account as root), and an Xvfb for the real xfreerdp client.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"
#include "xvfb.h"

namespace mp::test {

inline constexpr int kDesktopWidth = 1024;
inline constexpr int kDesktopHeight = 768;

// Why this cannot run here, or empty.
std::string missing_desktop_prerequisites();

struct DesktopSystemOptions {
  // The session command (words, no shell); empty: mp-workload --pattern --print-input.
  std::vector<std::string> session_command;
  std::vector<std::string> session_args;  // more flags for mp-session
  bool webfilter = false;                 // also run mp-webfilter (nftables as root)
  std::vector<std::string> webfilter_args;
};

class DesktopSystem {
 public:
  explicit DesktopSystem(DesktopSystemOptions options = {});
  ~DesktopSystem();  // stops everything, logs every session off, removes the account

  RunResult mpctl(std::vector<std::string> args);
  nlohmann::json status();                   // mpctl status --json
  pid_t pid_of(const std::string& service);  // from the supervisor; 0 if unknown
  bool wait_running(const std::string& service, pid_t not_pid, std::chrono::milliseconds timeout);
  nlohmann::json sessions();  // mpctl sessions --json
  // The one session there is, or an empty object (value() then gives the defaults).
  nlohmann::json only_session();
  std::string log() const;
  std::string log_tail(std::size_t bytes = 8000) const;

  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  int port() const { return port_; }
  Xvfb& client_display() { return *client_display_; }

  std::vector<std::string> client_args(const std::vector<std::string>& extra,
                                       const std::string& password) const;
  // Starts xfreerdp; `client_name` is the computer name it sends (the station key's part).
  std::unique_ptr<ChildProcess> start_client(const std::vector<std::string>& extra,
                                             const std::string& client_name = "e2e-desk");
  RunResult run_client(const std::vector<std::string>& args);

  // The client's window as the test sees it.
  Screenshot screenshot(std::pair<int, int>* origin);
  // What the session's mp-workload printed (its --print-input lines).
  std::string desktop_output() const;
  const std::filesystem::path& dir() const { return dir_.path(); }
  const std::filesystem::path& runtime_dir() const { return runtime_dir_; }

 private:
  TempDir dir_{"mpe2r"};
  std::filesystem::path runtime_dir_, state_dir_;
  std::string user_, password_;
  int port_ = 0;
  std::unique_ptr<ChildProcess> supervisor_;
  std::unique_ptr<Xvfb> client_display_;
};

}  // namespace mp::test
