// The policy commands on mpctl's command line: block, unblock, web, policy, usb, schedule,
// group, audit. Registered on the app before parsing; run() after parsing checks what CLI11
// cannot (a target or --all, list files, days and times) and calls the Mpctl command.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpctl.h"

namespace mp::mpctl {

class PolicyCli {
 public:
  explicit PolicyCli(CLI::App& app);
  // The exit code of the policy command given, or nullopt when the command was another one.
  std::optional<int> run(Mpctl& mpctl);

 private:
  struct TargetArgs {
    std::string name;
    bool all = false;
    bool new_stations = false;
  };
  void add_target(CLI::App* command, TargetArgs& target);
  // A target, --all or --new-stations, exactly one; prints why not.
  static std::optional<PolicyTarget> target_of(const TargetArgs& args, const std::string& command);

  CLI::App* block_ = nullptr;
  CLI::App* unblock_ = nullptr;
  TargetArgs block_target_;
  std::string block_message_;

  CLI::App* web_allow_ = nullptr;
  CLI::App* web_block_ = nullptr;
  CLI::App* web_off_ = nullptr;
  CLI::App* web_inherit_ = nullptr;
  CLI::App* web_show_ = nullptr;
  std::vector<std::string> web_args_;
  bool web_all_ = false;
  bool web_new_stations_ = false;
  std::vector<std::string> web_files_;
  bool web_remove_ = false;
  bool web_replace_ = false;
  TargetArgs web_target_;

  CLI::App* policy_show_ = nullptr;

  CLI::App* usb_lock_ = nullptr;
  CLI::App* usb_unlock_ = nullptr;
  TargetArgs usb_target_;

  CLI::App* schedule_add_ = nullptr;
  CLI::App* schedule_list_ = nullptr;
  CLI::App* schedule_remove_ = nullptr;
  TargetArgs schedule_target_;
  std::string days_, from_, to_, label_;
  CLI::Option* schedule_block_ = nullptr;
  std::string schedule_message_;
  std::string web_block_file_, web_allow_file_;
  std::vector<std::string> web_block_domains_, web_allow_domains_;
  bool web_off_action_ = false;
  bool usb_lock_action_ = false;
  std::uint64_t schedule_id_ = 0;

  CLI::App* group_add_ = nullptr;
  CLI::App* group_remove_ = nullptr;
  CLI::App* group_list_ = nullptr;
  std::string group_name_;
  std::vector<std::string> group_stations_;

  CLI::App* audit_ = nullptr;
  std::uint32_t audit_limit_ = 0;
  std::string audit_since_;
  std::string audit_operator_;

  bool json_ = false;
};

}  // namespace mp::mpctl
