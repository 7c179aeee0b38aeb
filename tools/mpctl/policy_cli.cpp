#include "policy_cli.h"

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "policy_input.h"

namespace mp::mpctl {

namespace {

using mp::schema::WebList;
using mp::schema::WebMode;

// What mp-policy accepts in one list, and what fits in one bus message with room to spare.
constexpr std::size_t kMaxDomains = 10000;
constexpr std::size_t kMaxDomainBytes = 700 * 1024;
constexpr std::size_t kMaxFileBytes = 64 * 1024 * 1024;

std::int64_t now_realtime_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int usage_error(const std::string& message) {
  std::cerr << "mpctl: " << message << "\n";
  return exit_code::usage;
}

// Reads a list file ("-": stdin) and appends its domains; an error text or empty.
std::string read_list_file(const std::string& path, std::vector<std::string>* domains) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream file(path, std::ios::binary);
    if (!file) return "cannot read " + path;
    std::ostringstream contents;
    contents << file.rdbuf();
    text = contents.str();
  }
  if (text.size() > kMaxFileBytes) return path + " is larger than 64 MiB";
  DomainListFile list = parse_domain_list(text);
  if (!list.error.empty()) return path + ": " + list.error;
  domains->insert(domains->end(), list.domains.begin(), list.domains.end());
  return {};
}

std::string check_domain_count(const std::vector<std::string>& domains) {
  if (domains.size() > kMaxDomains) {
    return std::to_string(domains.size()) + " domains: at most " + std::to_string(kMaxDomains) +
           " fit in one list";
  }
  std::size_t bytes = 0;
  for (const auto& d : domains) bytes += d.size() + 16;
  if (bytes > kMaxDomainBytes) return "the domains are too long to send in one message";
  return {};
}

}  // namespace

void PolicyCli::add_target(CLI::App* command, TargetArgs& target) {
  command->add_option("TARGET", target.name, "a station key or a group name");
  command->add_flag("--all", target.all, "every station");
  command->add_flag("--new-stations", target.new_stations,
                    "stations no administrator admitted (between groups and all)");
}

std::optional<PolicyTarget> PolicyCli::target_of(const TargetArgs& args,
                                                 const std::string& command) {
  if (int(args.all) + int(args.new_stations) + int(!args.name.empty()) != 1) {
    usage_error(command + ": give a station, a group, --all or --new-stations (exactly one)");
    return std::nullopt;
  }
  return PolicyTarget{.all = args.all, .name = args.name, .new_stations = args.new_stations};
}

PolicyCli::PolicyCli(CLI::App& app) {
  block_ = app.add_subcommand("block", "block a station, a group or --all with a lock screen");
  add_target(block_, block_target_);
  block_->add_option("--message,-m", block_message_, "what the lock screen says");
  unblock_ = app.add_subcommand("unblock", "unblock a station, a group, or --all (everyone)");
  add_target(unblock_, block_target_);

  auto* web = app.add_subcommand("web", "web filtering: allow or block lists, modes");
  web->require_subcommand(1);
  for (auto [name, what, command] :
       {std::tuple{"allow", "allow only these domains (adds to the allow list)", &web_allow_},
        std::tuple{"block", "block these domains (adds to the block list)", &web_block_}}) {
    *command = web->add_subcommand(name, what);
    (*command)->add_option("ARGS", web_args_,
                           "TARGET (unless --all or --new-stations), then DOMAIN...");
    (*command)->add_flag("--all", web_all_, "every station");
    (*command)->add_flag("--new-stations", web_new_stations_, "stations no administrator admitted");
    (*command)
        ->add_option("--from-file", web_files_,
                     "a list (one domain per line) or a hosts file; '-' reads stdin")
        ->allow_extra_args(false);
    (*command)->add_flag("--remove", web_remove_, "remove the domains from the list instead");
    (*command)->add_flag("--replace", web_replace_, "the list becomes exactly these domains");
  }
  web_off_ = web->add_subcommand("off", "no web filtering for the target");
  add_target(web_off_, web_target_);
  web_inherit_ = web->add_subcommand("inherit", "clear the target's own web mode");
  add_target(web_inherit_, web_target_);
  web_show_ = web->add_subcommand("show", "effective web policy per station, and the lists");
  web_show_->add_flag("--json", json_, "JSON instead of text");

  auto* policy = app.add_subcommand("policy", "the whole policy");
  policy->require_subcommand(1);
  policy_show_ = policy->add_subcommand("show", "effective policy per station and what is set");
  policy_show_->add_flag("--json", json_, "JSON instead of tables");

  auto* usb = app.add_subcommand("usb", "USB storage lockdown");
  usb->require_subcommand(1);
  usb_lock_ = usb->add_subcommand("lock", "USB storage may not be used");
  add_target(usb_lock_, usb_target_);
  usb_unlock_ = usb->add_subcommand("unlock", "USB storage may be used");
  add_target(usb_unlock_, usb_target_);

  auto* schedule = app.add_subcommand("schedule", "policy that applies at set times");
  schedule->require_subcommand(1);
  schedule_add_ = schedule->add_subcommand(
      "add", "e.g. schedule add --all --days mon-fri --from 09:00 --to 12:00 --web-block-file F");
  add_target(schedule_add_, schedule_target_);
  schedule_add_->add_option("--days", days_, "mon-fri, mon,wed,fri, weekdays, weekend, daily")
      ->required();
  schedule_add_->add_option("--from", from_, "start, local time HH:MM")->required();
  schedule_add_->add_option("--to", to_, "end (exclusive), local time HH:MM; 24:00 is midnight")
      ->required();
  schedule_add_->add_option("--label", label_, "a name for people");
  schedule_block_ =
      schedule_add_->add_option("--block", schedule_message_, "block, with this message");
  auto* block_file =
      schedule_add_->add_option("--web-block-file", web_block_file_, "blockOnly with this list");
  auto* allow_file =
      schedule_add_->add_option("--web-allow-file", web_allow_file_, "allowOnly with this list");
  auto* block_domains =
      schedule_add_->add_option("--web-block", web_block_domains_, "blockOnly these domains");
  auto* allow_domains =
      schedule_add_->add_option("--web-allow", web_allow_domains_, "allowOnly these domains");
  auto* web_off = schedule_add_->add_flag("--web-off", web_off_action_, "no web filtering");
  auto* usb_lock = schedule_add_->add_flag("--usb-lock", usb_lock_action_, "lock USB storage");
  std::vector<CLI::Option*> actions{schedule_block_, block_file, allow_file, block_domains,
                                    allow_domains,   web_off,    usb_lock};
  for (auto* a : actions) {
    for (auto* b : actions) {
      if (a != b) a->excludes(b);
    }
  }
  schedule_list_ = schedule->add_subcommand("list", "the schedules");
  schedule_list_->add_flag("--json", json_, "a JSON array instead of a table");
  schedule_remove_ = schedule->add_subcommand("remove", "remove a schedule");
  schedule_remove_->add_option("ID", schedule_id_, "from schedule list")->required();

  auto* group = app.add_subcommand("group", "groups of stations, to set policy on together");
  group->require_subcommand(1);
  group_add_ = group->add_subcommand("add", "create a group or add stations to it");
  group_add_->add_option("NAME", group_name_, "^[a-z0-9][a-z0-9_-]{0,31}$")->required();
  group_add_->add_option("STATIONS", group_stations_, "station keys");
  group_remove_ = group->add_subcommand(
      "remove", "remove stations from a group; without stations, delete the group");
  group_remove_->add_option("NAME", group_name_, "the group")->required();
  group_remove_->add_option("STATIONS", group_stations_, "station keys");
  group_list_ = group->add_subcommand("list", "the groups and their stations");
  group_list_->add_flag("--json", json_, "a JSON array instead of a table");

  audit_ = app.add_subcommand("audit", "who did what, when, to which stations (mp-policy's log)");
  audit_->add_flag("--json", json_, "a JSON array instead of a table");
  audit_->add_option("--limit", audit_limit_, "newest N entries (default 100, at most 1000)")
      ->check(CLI::Range(1, 1000));
  audit_->add_option("--since", audit_since_,
                     "only entries from then on: 30m, 2h, 7d, 2026-11-22 or 2026-11-22T09:30");
  audit_->add_option("--operator", audit_operator_, "only this operator's actions");
}

std::optional<int> PolicyCli::run(Mpctl& mpctl) {
  if (block_->parsed() || unblock_->parsed()) {
    bool blocked = block_->parsed();
    auto target = target_of(block_target_, blocked ? "block" : "unblock");
    if (!target) return exit_code::usage;
    return mpctl.block(*target, blocked, block_message_);
  }
  if (web_allow_->parsed() || web_block_->parsed()) {
    std::string command = web_allow_->parsed() ? "web allow" : "web block";
    std::vector<std::string> domains = web_args_;
    if (web_all_ && web_new_stations_) {
      return usage_error(command + ": --all or --new-stations, not both");
    }
    PolicyTarget target{.all = web_all_, .new_stations = web_new_stations_};
    if (!web_all_ && !web_new_stations_) {
      if (domains.empty()) {
        return usage_error(command + ": give a station, a group, --all or --new-stations");
      }
      target.name = domains.front();
      domains.erase(domains.begin());
    }
    for (const auto& file : web_files_) {
      if (auto e = read_list_file(file, &domains); !e.empty())
        return usage_error(command + ": " + e);
    }
    if (domains.empty() && !web_replace_) return usage_error(command + ": no domains given");
    if (web_remove_ && web_replace_)
      return usage_error(command + ": --remove or --replace, not both");
    if (auto e = check_domain_count(domains); !e.empty()) return usage_error(command + ": " + e);
    return mpctl.web_list(target, web_allow_->parsed() ? WebList::ALLOW : WebList::BLOCK, domains,
                          web_remove_, web_replace_);
  }
  if (web_off_->parsed() || web_inherit_->parsed()) {
    auto target = target_of(web_target_, web_off_->parsed() ? "web off" : "web inherit");
    if (!target) return exit_code::usage;
    return mpctl.web_mode(*target, web_off_->parsed() ? WebMode::OFF : WebMode::UNKNOWN);
  }
  if (web_show_->parsed()) return mpctl.web_show(json_);
  if (policy_show_->parsed()) return mpctl.policy_show(json_);
  if (usb_lock_->parsed() || usb_unlock_->parsed()) {
    auto target = target_of(usb_target_, usb_lock_->parsed() ? "usb lock" : "usb unlock");
    if (!target) return exit_code::usage;
    return mpctl.usb(*target, usb_lock_->parsed());
  }
  if (schedule_add_->parsed()) {
    auto target = target_of(schedule_target_, "schedule add");
    if (!target) return exit_code::usage;
    ScheduleRequest request{.target = *target, .label = label_};
    auto days = parse_days(days_);
    if (!days)
      return usage_error("schedule add: --days '" + days_ +
                         "': use e.g. mon-fri, mon,wed,fri, weekdays, weekend, daily");
    auto start = parse_clock(from_, false);
    if (!start) return usage_error("schedule add: --from '" + from_ + "': use HH:MM (00:00-23:59)");
    auto end = parse_clock(to_, true);
    if (!end) return usage_error("schedule add: --to '" + to_ + "': use HH:MM (00:01-24:00)");
    if (*end <= *start) {
      return usage_error("schedule add: --to must be after --from (windows do not cross midnight)");
    }
    request.days = *days;
    request.start_minute = *start;
    request.end_minute = *end;
    if (schedule_block_->count() > 0) {
      request.kind = ScheduleRequest::Kind::block;
      request.message = schedule_message_;
    } else if (usb_lock_action_) {
      request.kind = ScheduleRequest::Kind::usb_lock;
    } else if (web_off_action_) {
      request.kind = ScheduleRequest::Kind::web;
      request.web_mode = WebMode::OFF;
    } else if (!web_block_file_.empty() || !web_block_domains_.empty() ||
               !web_allow_file_.empty() || !web_allow_domains_.empty()) {
      bool allow = !web_allow_file_.empty() || !web_allow_domains_.empty();
      request.kind = ScheduleRequest::Kind::web;
      request.web_mode = allow ? WebMode::ALLOW_ONLY : WebMode::BLOCK_ONLY;
      request.domains = allow ? web_allow_domains_ : web_block_domains_;
      const std::string& file = allow ? web_allow_file_ : web_block_file_;
      if (!file.empty()) {
        if (auto e = read_list_file(file, &request.domains); !e.empty()) {
          return usage_error("schedule add: " + e);
        }
      }
      if (auto e = check_domain_count(request.domains); !e.empty()) {
        return usage_error("schedule add: " + e);
      }
    } else {
      return usage_error(
          "schedule add: say what it does: --block MESSAGE, --web-block-file F, "
          "--web-allow-file F, --web-block DOMAIN..., --web-allow DOMAIN..., --web-off or "
          "--usb-lock");
    }
    return mpctl.schedule_add(request);
  }
  if (schedule_list_->parsed()) return mpctl.schedule_list(json_);
  if (schedule_remove_->parsed()) return mpctl.schedule_remove(schedule_id_);
  if (group_add_->parsed()) return mpctl.group_edit(group_name_, group_stations_, false);
  if (group_remove_->parsed()) return mpctl.group_edit(group_name_, group_stations_, true);
  if (group_list_->parsed()) return mpctl.group_list(json_);
  if (audit_->parsed()) {
    Mpctl::AuditFilter filter{.limit = audit_limit_, .operator_name = audit_operator_};
    if (!audit_since_.empty()) {
      auto since = parse_since(audit_since_, now_realtime_ns());
      if (!since) {
        return usage_error("--since: '" + audit_since_ +
                           "' is not a time; use 30m, 2h, 7d, 2026-11-22 or 2026-11-22T09:30");
      }
      filter.since_ns = *since;
    }
    return mpctl.audit(json_, filter);
  }
  return std::nullopt;
}

}  // namespace mp::mpctl
