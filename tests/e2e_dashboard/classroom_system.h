// A classroom for the dashboard's browser tests: mp-supervisor running bus, session (real
// desktops showing mp-workload's test pattern), policy, rdp and dashboard on a private runtime
// dir and free loopback ports; a teacher account (role dashboard) and one student account per
// station (real Linux accounts as root, removed at the end); and for each station the real
// xfreerdp logged on as its student, under an Xvfb of its own so each screen can be checked.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"
#include "xvfb.h"

namespace mp::test {

// The session's size: the client asks for it, mp-session gives the desktop that size.
inline constexpr int kStationWidth = 800;
inline constexpr int kStationHeight = 600;

// Why this cannot run here (a program or a build product missing), or empty.
std::string missing_classroom_prerequisites();

struct ClassroomStation {
  std::string key;  // "rdp:<client name>", as the dashboard shows it
  std::string user;
  std::string password;
  std::unique_ptr<Xvfb> display;  // the client's screen
  std::unique_ptr<ChildProcess> client;
};

class ClassroomSystem {
 public:
  explicit ClassroomSystem(int stations);
  ~ClassroomSystem();  // stops everything, logs every session off, removes the accounts

  std::string url() const { return "http://127.0.0.1:" + std::to_string(dashboard_port_); }
  const std::string& teacher() const { return teacher_; }
  const std::string& teacher_password() const { return teacher_password_; }
  ClassroomStation& station(std::size_t i) { return stations_.at(i); }
  std::size_t station_count() const { return stations_.size(); }

  // Until the services run, mp-session answers and the dashboard serves its login page.
  bool wait_ready(std::chrono::milliseconds timeout);
  // Starts every station's xfreerdp; true once each has an active session with its agent up.
  bool connect_stations(std::chrono::milliseconds timeout);

  RunResult mpctl(std::vector<std::string> args, const std::string& stdin_text = {});
  // An account of role admin (removed with the others); mpctl's output.
  std::string add_admin(const std::string& name, const std::string& password) {
    return add_account(name, "admin", password);
  }
  // Where the configured restart/shutdown commands write "restart" or "shutdown" (nothing
  // here powers anything off).
  std::filesystem::path power_mark() const { return dir_.path() / "power.mark"; }
  nlohmann::json sessions();  // mpctl sessions --json
  std::string log() const;

  // The station client's screen, and where xfreerdp's window is on it.
  Screenshot screenshot(std::size_t station, std::pair<int, int>* origin);
  // xdotool on the station client's display: input goes through RDP into the session.
  RunResult xdotool(std::size_t station, const std::vector<std::string>& args);

 private:
  std::string add_account(const std::string& name, const std::string& role,
                          const std::string& password);

  TempDir dir_{"mpe2d"};
  std::filesystem::path runtime_dir_, state_dir_;
  int rdp_port_ = 0;
  int dashboard_port_ = 0;
  std::string teacher_, teacher_password_;
  std::vector<std::string> accounts_;
  std::unique_ptr<ChildProcess> supervisor_;
  std::vector<ClassroomStation> stations_;
};

}  // namespace mp::test
