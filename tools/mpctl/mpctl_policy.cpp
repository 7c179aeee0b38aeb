// mpctl's policy commands: they ask mp-policy (service "policy") and print its answers.
#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <vector>

#include <capnp/message.h>

#include "mpctl.h"
#include "policy_tables.h"

namespace mp::mpctl {

using mp::schema::Envelope;
using mp::schema::Error;

namespace {

constexpr std::string_view kPolicy = "policy";

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

// A group name as mp-policy accepts them: ^[a-z0-9][a-z0-9_-]{0,31}$.
bool could_be_group(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (i > 0 && (c == '_' || c == '-'));
    if (!ok) return false;
  }
  return true;
}

void fill_texts(capnp::List<capnp::Text>::Builder out, const std::vector<std::string>& items) {
  for (unsigned i = 0; i < items.size(); ++i) out.set(i, items[i]);
}

}  // namespace

std::string current_operator() {
  if (getuid() == 0) {
    if (const char* sudo_user = std::getenv("SUDO_USER"); sudo_user && *sudo_user) {
      return sudo_user;
    }
  }
  if (passwd* entry = getpwuid(getuid()); entry && entry->pw_name) return entry->pw_name;
  return "uid:" + std::to_string(getuid());
}

std::optional<int> Mpctl::resolve(const PolicyTarget& target, ScopeFill* scope, std::string* name) {
  if (target.all) {
    *scope = [](mp::schema::Scope::Builder s) { s.setAll(); };
    *name = "all stations";
    return std::nullopt;
  }
  if (target.new_stations) {
    *scope = [](mp::schema::Scope::Builder s) { s.setNewStations(); };
    *name = "new stations";
    return std::nullopt;
  }
  std::string key = target.name;
  if (could_be_group(key)) {
    auto reply = ask(kPolicy, [](Envelope::Builder e) { e.initGroupListRequest(); });
    if (!reply.ok() || !reply.envelope().isGroupList()) return report_failure(kPolicy, reply);
    for (auto group : reply.envelope().getGroupList().getGroups()) {
      if (group.getName() == key) {
        *scope = [key](mp::schema::Scope::Builder s) { s.setGroup(key); };
        *name = "group " + key;
        return std::nullopt;
      }
    }
  }
  *scope = [key](mp::schema::Scope::Builder s) { s.setStation(key); };
  *name = "station " + key;
  return std::nullopt;
}

int Mpctl::policy_change(const mp::bus::Build& body, const std::string& done) {
  auto reply = ask(kPolicy, body, random_key());
  if (!reply.ok() || !reply.envelope().isAck()) return report_failure(kPolicy, reply);
  std::string detail = reply.envelope().getAck().getDetail();
  std::cout << done << (detail.empty() ? "" : " (" + detail + ")") << std::endl;
  return exit_code::ok;
}

int Mpctl::block(const PolicyTarget& target, bool blocked, const std::string& message) {
  if (auto failed = check_reachable()) return *failed;
  ScopeFill scope;
  std::string name;
  if (auto failed = resolve(target, &scope, &name)) return *failed;
  return policy_change(
      [&](Envelope::Builder e) {
        auto body = e.initSetBlock();
        scope(body.initScope());
        body.setBlocked(blocked);
        body.setMessage(message);
      },
      (blocked ? "blocked " : "unblocked ") + name);
}

int Mpctl::web_list(const PolicyTarget& target, mp::schema::WebList list,
                    const std::vector<std::string>& domains, bool remove, bool replace) {
  if (auto failed = check_reachable()) return *failed;
  ScopeFill scope;
  std::string name;
  if (auto failed = resolve(target, &scope, &name)) return *failed;
  bool allow = list == mp::schema::WebList::ALLOW;
  std::string what = allow ? "allow list" : "block list";
  int code = policy_change(
      [&](Envelope::Builder e) {
        auto body = e.initEditWebList();
        scope(body.initScope());
        body.setList(list);
        if (remove) {
          fill_texts(body.initRemove(static_cast<unsigned>(domains.size())), domains);
        } else {
          fill_texts(body.initAdd(static_cast<unsigned>(domains.size())), domains);
        }
        body.setReplace(replace);
      },
      what + " of " + name + " updated");
  if (code != exit_code::ok || remove) return code;
  // The list takes effect through the mode that selects it.
  auto mode = allow ? mp::schema::WebMode::ALLOW_ONLY : mp::schema::WebMode::BLOCK_ONLY;
  return policy_change(
      [&](Envelope::Builder e) {
        auto body = e.initSetWebMode();
        scope(body.initScope());
        body.setMode(mode);
      },
      "web of " + name + " is " + web_mode_name(mode));
}

int Mpctl::web_mode(const PolicyTarget& target, mp::schema::WebMode mode) {
  if (auto failed = check_reachable()) return *failed;
  ScopeFill scope;
  std::string name;
  if (auto failed = resolve(target, &scope, &name)) return *failed;
  return policy_change(
      [&](Envelope::Builder e) {
        auto body = e.initSetWebMode();
        scope(body.initScope());
        body.setMode(mode);
      },
      "web of " + name + " is " + web_mode_name(mode));
}

std::optional<mp::bus::Reply> Mpctl::policy_report(int* failure) {
  if (auto failed = check_reachable()) {
    *failure = *failed;
    return std::nullopt;
  }
  auto reply = ask(kPolicy, [](Envelope::Builder e) { e.initPolicyShowRequest(); });
  if (!reply.ok() || !reply.envelope().isPolicyReport()) {
    *failure = report_failure(kPolicy, reply);
    return std::nullopt;
  }
  return reply;
}

int Mpctl::show_policy_report(bool json, ReportJson to_json, ReportText to_text) {
  int failure = exit_code::ok;
  auto reply = policy_report(&failure);
  if (!reply) return failure;
  auto report = reply->envelope().getPolicyReport();
  if (json) {
    std::map<std::string, std::vector<std::string>> fetched;
    auto lists = [&](const std::string& key) -> std::vector<std::string> {
      auto it = fetched.find(key);
      if (it == fetched.end()) it = fetched.emplace(key, fetch_list(key)).first;
      return it->second;
    };
    print_json(to_json(report, lists));
  } else {
    std::fputs(to_text(report).c_str(), stdout);
  }
  return exit_code::ok;
}

std::vector<std::string> Mpctl::fetch_list(const std::string& key) {
  std::vector<std::string> out;
  for (;;) {
    auto offset = static_cast<std::uint32_t>(out.size());
    auto reply = ask(kPolicy, [&](Envelope::Builder e) {
      auto body = e.initDomainListFetch();
      body.setKey(key);
      body.setOffset(offset);
    });
    if (!reply.ok() || !reply.envelope().isDomainListPage()) {
      report_failure(kPolicy, reply);
      return {};
    }
    auto page = reply.envelope().getDomainListPage();
    for (auto domain : page.getDomains()) out.emplace_back(domain.begin(), domain.size());
    if (out.size() >= page.getTotal() || page.getDomains().size() == 0) return out;
  }
}

int Mpctl::web_show(bool json) { return show_policy_report(json, web_json, web_text); }

int Mpctl::policy_show(bool json) { return show_policy_report(json, report_json, report_text); }

int Mpctl::usb(const PolicyTarget& target, bool locked) {
  if (auto failed = check_reachable()) return *failed;
  ScopeFill scope;
  std::string name;
  if (auto failed = resolve(target, &scope, &name)) return *failed;
  return policy_change(
      [&](Envelope::Builder e) {
        auto body = e.initSetUsbLock();
        scope(body.initScope());
        body.setLocked(locked);
      },
      std::string("USB storage ") + (locked ? "locked" : "unlocked") + " on " + name);
}

int Mpctl::schedule_add(const ScheduleRequest& request) {
  if (auto failed = check_reachable()) return *failed;
  ScopeFill scope;
  std::string name;
  if (auto failed = resolve(request.target, &scope, &name)) return *failed;
  auto reply = ask(
      kPolicy,
      [&](Envelope::Builder e) {
        auto schedule = e.initScheduleAdd().initSchedule();
        scope(schedule.initScope());
        schedule.setDays(request.days);
        schedule.setStartMinute(request.start_minute);
        schedule.setEndMinute(request.end_minute);
        schedule.setLabel(request.label);
        auto action = schedule.initAction();
        switch (request.kind) {
          case ScheduleRequest::Kind::block:
            action.setBlock(request.message);
            break;
          case ScheduleRequest::Kind::web: {
            auto web = action.initWeb();
            web.setMode(request.web_mode);
            fill_texts(web.initDomains(static_cast<unsigned>(request.domains.size())),
                       request.domains);
            break;
          }
          case ScheduleRequest::Kind::usb_lock:
            action.setUsbLock();
            break;
        }
      },
      random_key());
  if (!reply.ok() || !reply.envelope().isSchedule()) return report_failure(kPolicy, reply);
  auto schedule = reply.envelope().getSchedule();
  std::cout << "schedule " << schedule.getId() << " added for " << name << ": "
            << schedule_summary(schedule) << std::endl;
  return exit_code::ok;
}

int Mpctl::schedule_list(bool json) {
  if (auto failed = check_reachable()) return *failed;
  auto reply = ask(kPolicy, [](Envelope::Builder e) { e.initScheduleListRequest(); });
  if (!reply.ok() || !reply.envelope().isScheduleList()) return report_failure(kPolicy, reply);
  auto schedules = reply.envelope().getScheduleList().getSchedules();
  if (json) {
    print_json(schedules_json(schedules));
  } else {
    std::fputs(schedules_table(schedules).c_str(), stdout);
  }
  return exit_code::ok;
}

int Mpctl::schedule_remove(std::uint64_t id) {
  if (auto failed = check_reachable()) return *failed;
  return policy_change([&](Envelope::Builder e) { e.initScheduleRemove().setId(id); },
                       "schedule " + std::to_string(id) + " removed");
}

int Mpctl::group_edit(const std::string& name, const std::vector<std::string>& stations,
                      bool remove) {
  if (auto failed = check_reachable()) return *failed;
  std::string done = !remove            ? "group " + name + " updated"
                     : stations.empty() ? "group " + name + " deleted"
                                        : "stations removed from group " + name;
  return policy_change(
      [&](Envelope::Builder e) {
        auto body = e.initGroupEdit();
        body.setName(name);
        fill_texts(body.initStations(static_cast<unsigned>(stations.size())), stations);
        body.setRemove(remove);
      },
      done);
}

int Mpctl::group_list(bool json) {
  if (auto failed = check_reachable()) return *failed;
  auto reply = ask(kPolicy, [](Envelope::Builder e) { e.initGroupListRequest(); });
  if (!reply.ok() || !reply.envelope().isGroupList()) return report_failure(kPolicy, reply);
  auto groups = reply.envelope().getGroupList().getGroups();
  if (json) {
    print_json(groups_json(groups));
  } else {
    std::fputs(groups_table(groups).c_str(), stdout);
  }
  return exit_code::ok;
}

int Mpctl::audit(bool json, const AuditFilter& filter) {
  constexpr std::uint32_t kDefaultLimit = 100, kMostPerQuery = 1000;
  if (auto failed = check_reachable()) return *failed;
  const std::uint32_t limit = filter.limit == 0 ? kDefaultLimit : filter.limit;
  const bool by_operator = !filter.operator_name.empty();
  auto reply = ask(kPolicy, [&](Envelope::Builder e) {
    auto query = e.initAuditQuery();
    query.setLimit(by_operator ? kMostPerQuery : limit);
    query.setSinceNs(filter.since_ns);
  });
  if (!reply.ok() || !reply.envelope().isAuditLog()) return report_failure(kPolicy, reply);
  auto log = reply.envelope().getAuditLog();
  // The kept entries, copied into a log of their own so both printers take the same type.
  std::vector<mp::schema::AuditEntry::Reader> kept;
  for (auto entry : log.getEntries()) {
    if (kept.size() == limit) break;
    if (by_operator && entry.getOperator() != filter.operator_name.c_str()) continue;
    kept.push_back(entry);
  }
  capnp::MallocMessageBuilder filtered;
  auto entries =
      filtered.initRoot<mp::schema::AuditLog>().initEntries(static_cast<unsigned>(kept.size()));
  for (unsigned i = 0; i < kept.size(); ++i) entries.setWithCaveats(i, kept[i]);
  auto shown = filtered.getRoot<mp::schema::AuditLog>().asReader();
  if (json) {
    print_json(audit_json(shown));
  } else {
    std::fputs(audit_table(shown).c_str(), stdout);
  }
  return exit_code::ok;
}

}  // namespace mp::mpctl
