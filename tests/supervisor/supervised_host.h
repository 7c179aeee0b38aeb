// A real multipoint host for integration tests: mp-supervisor as a child process with its own
// runtime and state dirs, and mpctl run against it. Shared by tests/supervisor and tests/mpctl.
#pragma once

#include <algorithm>

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {

class SupervisedHost {
 public:
  // Passable by others: services that drop to system users (mp-dashboard) reach the bus
  // through it, as through /run in production.
  SupervisedHost() : dir_("mp-sup") {
    std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
  }
  ~SupervisedHost() {
    // Gracefully, so no service outlives the test writing into a removed directory.
    if (supervisor_) supervisor_->stop();
    // As root the embedded defaults' web filter leaves its nftables table on the host (it
    // outlives a stop on purpose): the whole system is down now, as `./mp down` would do.
    if (geteuid() == 0) run("/usr/sbin/nft", {"delete", "table", "inet", "multipoint_webfilter"});
  }
  SupervisedHost(const SupervisedHost&) = delete;
  SupervisedHost& operator=(const SupervisedHost&) = delete;

  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path runtime_dir() const { return dir_ / "run"; }
  std::filesystem::path state_dir() const { return dir_ / "state"; }
  std::filesystem::path log_path() const { return dir_ / "supervisor.log"; }
  std::string log() const { return read_file(log_path()); }
  ChildProcess& supervisor() { return *supervisor_; }

  // Without --services or --config: bus, session and policy. The embedded defaults also listen
  // on fixed ports (3128, 3129, 3389, 8080), so only the one test that checks them starts them,
  // or tests running in parallel would take each other's ports.
  void start(const std::vector<std::string>& extra_args = {}, bool embedded_defaults = false) {
    std::vector<std::string> args{"--runtime-dir",      runtime_dir().string(), "--state-dir",
                                  state_dir().string(), "--log-level",          "debug"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    bool chosen = std::find(args.begin(), args.end(), "--services") != args.end() ||
                  std::find(args.begin(), args.end(), "--config") != args.end();
    if (!chosen && !embedded_defaults)
      args.insert(args.end(), {"--services", "bus,session,policy"});
    ChildProcess::Options options;
    options.output_file = log_path();
    supervisor_ = std::make_unique<ChildProcess>(bin_dir() / "mp-supervisor", args, options);
  }

  RunResult mpctl(const std::vector<std::string>& args, ChildProcess::Options options = {}) const {
    std::vector<std::string> all{"--runtime-dir", runtime_dir().string()};
    all.insert(all.end(), args.begin(), args.end());
    return run(bin_dir() / "mpctl", all, std::move(options), std::chrono::seconds(20));
  }

  // `mpctl status --json` as JSON; null when it failed.
  nlohmann::json status() const {
    RunResult result = mpctl({"status", "--json"});
    if (result.exit_code != 0) return nullptr;
    try {
      return nlohmann::json::parse(result.output);
    } catch (const nlohmann::json::exception&) {
      return nullptr;
    }
  }

  // One service's entry from status; null when missing.
  nlohmann::json service(const std::string& name) const {
    nlohmann::json all = status();
    if (!all.is_array()) return nullptr;
    for (const auto& entry : all) {
      if (entry.value("service", "") == name) return entry;
    }
    return nullptr;
  }

  static bool is_running(const nlohmann::json& entry) {
    return entry.is_object() && entry["state"] == "running" && entry["pid"].is_number();
  }
  // Running and seen on the bus (its incarnation is known).
  static bool is_up(const nlohmann::json& entry) {
    return is_running(entry) && entry["incarnation"].is_string();
  }

  bool wait_until_up(const std::vector<std::string>& names,
                     std::chrono::milliseconds timeout = std::chrono::seconds(15)) const {
    return eventually(
        [&] {
          for (const auto& name : names) {
            if (!is_up(service(name))) return false;
          }
          return true;
        },
        timeout);
  }

  std::filesystem::path write_file(const std::string& name, const std::string& text) const {
    std::filesystem::path path = dir_ / name;
    std::FILE* file = std::fopen(path.c_str(), "w");
    std::fputs(text.c_str(), file);
    std::fclose(file);
    return path;
  }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> supervisor_;
};

inline bool binaries_present(const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (!std::filesystem::exists(bin_dir() / name)) return false;
  }
  return true;
}

}  // namespace mp::test
