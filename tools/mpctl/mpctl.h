// mpctl's commands: each asks the service that owns the answer over the bus and prints it.
// Every command runs on one BusCommand (bus_command.h), which holds the exit-code policy.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include "bus_command.h"
#include "mp/bus/client.h"
#include "mp/bus/endpoints.h"
#include "mp/bus/reactor.h"

#include "policy.capnp.h"
#include "policy_tables.h"
#include "session.capnp.h"
#include "supervisor.capnp.h"

namespace mp::mpctl {

// Whom a policy command is about: every station, the stations no administrator admitted, or a
// name that is a known group, else a station key.
struct PolicyTarget {
  bool all = false;
  std::string name;
  bool new_stations = false;
};

struct ScheduleRequest {
  PolicyTarget target;
  std::uint8_t days = 0;
  std::uint16_t start_minute = 0;
  std::uint16_t end_minute = 0;
  enum class Kind { block, web, usb_lock } kind = Kind::block;
  std::string message;                                      // block
  mp::schema::WebMode web_mode = mp::schema::WebMode::OFF;  // web
  std::vector<std::string> domains;                         // web
  std::string label;
};

class Mpctl {
 public:
  explicit Mpctl(MpctlOptions options);
  ~Mpctl();
  Mpctl(const Mpctl&) = delete;
  Mpctl& operator=(const Mpctl&) = delete;
  // The command base the other command groups (SessionCli, StationCli) run on too.
  BusCommand& bus() { return bus_; }

  int status(bool json);
  int stations(bool json);
  int user_add(const std::string& name, mp::schema::Role role, const std::string& password);
  // Role UNKNOWN and an empty password leave that part unchanged.
  int user_modify(const std::string& name, mp::schema::Role role, const std::string& password);
  int user_list(bool json);
  int control(const std::string& service, mp::schema::ServiceControl::Action action);
  // Prints every message on the tap under `prefix` until SIGINT/SIGTERM, or `count` messages.
  int tap(const std::string& prefix, bool json, std::uint64_t count);

  // Policy (service "policy"); mutating commands carry an idempotency key.
  int block(const PolicyTarget& target, bool blocked, const std::string& message);
  // Adds (or removes) domains on a list; adding also sets the matching mode (allowOnly for the
  // allow list, blockOnly for the block list) on the same scope.
  int web_list(const PolicyTarget& target, mp::schema::WebList list,
               const std::vector<std::string>& domains, bool remove, bool replace);
  int web_mode(const PolicyTarget& target, mp::schema::WebMode mode);
  int web_show(bool json);
  int policy_show(bool json);
  int usb(const PolicyTarget& target, bool locked);
  int schedule_add(const ScheduleRequest& request);
  int schedule_list(bool json);
  int schedule_remove(std::uint64_t id);
  int group_edit(const std::string& name, const std::vector<std::string>& stations, bool remove);
  int group_list(bool json);
  // Newest first. mp-policy filters by time; the operator filter is applied here, over the
  // newest 1000 entries since `since_ns` (the most one query returns).
  struct AuditFilter {
    std::uint32_t limit = 0;  // 0: 100
    std::int64_t since_ns = 0;
    std::string operator_name;  // empty: anyone
  };
  int audit(bool json, const AuditFilter& filter);

 private:
  using ScopeFill = std::function<void(mp::schema::Scope::Builder)>;
  // The scope `target` names (asking mp-policy whether a name is a group), and its name for
  // people; an exit code when it cannot tell.
  std::optional<int> resolve(const PolicyTarget& target, ScopeFill* scope, std::string* name);
  // Sends one mutating request to mp-policy; prints the Ack's detail or the refusal.
  int policy_change(const mp::bus::Build& body, const std::string& done);
  std::optional<mp::bus::Reply> policy_report(int* failure);
  // `web show` and `policy show` differ only in how they render the one report.
  using ReportJson = nlohmann::json (*)(mp::schema::PolicyReport::Reader, const ListLookup&);
  // A whole shared domain list, fetched page by page; empty (and printed why) on failure.
  std::vector<std::string> fetch_list(const std::string& key);
  using ReportText = std::string (*)(mp::schema::PolicyReport::Reader);
  int show_policy_report(bool json, ReportJson to_json, ReportText to_text);
  // Fails (exit code 3, message printed) when the bus's request socket does not exist.
  std::optional<int> check_reachable();
  mp::bus::Client& client();
  mp::bus::Reply ask(std::string_view service, const mp::bus::Build& body,
                     const std::string& idempotency_key = {});
  // Prints why `reply` is not the answer wanted; returns the exit code for it.
  int report_failure(std::string_view service, const mp::bus::Reply& reply);

  MpctlOptions options_;
  BusCommand bus_;
};

// One line from `fd` without its trailing \r\n; prompts without echo when fd is a terminal.
// nullopt when nothing was read.
std::optional<std::string> read_password(int fd, const std::string& prompt);
// The person running mpctl: $SUDO_USER under sudo, else the login name of the real uid.
std::string current_operator();

}  // namespace mp::mpctl
