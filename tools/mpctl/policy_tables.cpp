#include "policy_tables.h"

#include <ctime>
#include <vector>

#include "policy_input.h"
#include "tables.h"

namespace mp::mpctl {

using mp::schema::Setting;
using mp::schema::WebMode;
using nlohmann::json;

namespace {

constexpr std::size_t kDomainsShown = 20;

std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

std::string station_name(capnp::Text::Reader key) {
  return key.size() == 0 ? "(no station)" : text(key);
}

json texts_json(capnp::List<capnp::Text>::Reader list) {
  json out = json::array();
  for (auto item : list) out.push_back(text(item));
  return out;
}

std::string setting_name(Setting setting, const char* on, const char* off) {
  switch (setting) {
    case Setting::ON:
      return on;
    case Setting::OFF:
      return off;
    default:
      return "-";
  }
}

json setting_json(Setting setting) {
  switch (setting) {
    case Setting::ON:
      return true;
    case Setting::OFF:
      return false;
    default:
      return nullptr;
  }
}

// The first domains of a list of `total` (the report may carry only the head of it).
std::string shortened(capnp::List<capnp::Text>::Reader list, std::size_t total) {
  std::string out;
  std::size_t shown = 0;
  for (unsigned i = 0; i < list.size() && i < kDomainsShown; ++i, ++shown) {
    out += (i ? " " : "") + text(list[i]);
  }
  if (total > shown) out += " … (" + std::to_string(total - shown) + " more)";
  return out;
}

std::string shortened(capnp::List<capnp::Text>::Reader list) {
  return shortened(list, list.size());
}

// A list's length: its ref's count when it names a shared list, else what was sent.
std::size_t list_size(mp::schema::DomainListRef::Reader ref,
                      capnp::List<capnp::Text>::Reader sent) {
  return ref.getKey().size() > 0 ? ref.getCount() : sent.size();
}

json list_json(mp::schema::DomainListRef::Reader ref, capnp::List<capnp::Text>::Reader sent,
               const ListLookup& lists) {
  if (ref.getKey().size() == 0) return texts_json(sent);
  return lists(text(ref.getKey()));
}

std::string action_summary(mp::schema::ScheduleAction::Reader action) {
  switch (action.which()) {
    case mp::schema::ScheduleAction::BLOCK:
      return action.getBlock().size() ? "block \"" + text(action.getBlock()) + "\"" : "block";
    case mp::schema::ScheduleAction::WEB: {
      auto web = action.getWeb();
      std::string out = "web " + web_mode_name(web.getMode());
      if (web.getMode() != WebMode::OFF) {
        out += " (" + std::to_string(web.getDomains().size()) + " domains)";
      }
      return out;
    }
    case mp::schema::ScheduleAction::USB_LOCK:
      return "usb lock";
  }
  return "?";
}

json action_json(mp::schema::ScheduleAction::Reader action) {
  switch (action.which()) {
    case mp::schema::ScheduleAction::BLOCK:
      return {{"block", text(action.getBlock())}};
    case mp::schema::ScheduleAction::WEB:
      return {{"web",
               {{"mode", web_mode_name(action.getWeb().getMode())},
                {"domains", texts_json(action.getWeb().getDomains())}}}};
    case mp::schema::ScheduleAction::USB_LOCK:
      return {{"usb_lock", true}};
  }
  return nullptr;
}

json effective_json(mp::schema::EffectivePolicy::Reader e, const ListLookup& lists) {
  return {{"station", text(e.getStationKey())},
          {"blocked", e.getBlocked()},
          {"block_message", text(e.getBlockMessage())},
          {"block_source", text(e.getBlockSource())},
          {"web_mode", web_mode_name(e.getWebMode())},
          {"domains", list_json(e.getDomainList(), e.getDomains(), lists)},
          {"web_source", text(e.getWebSource())},
          {"usb_locked", e.getUsbStorageLocked()},
          {"usb_source", text(e.getUsbSource())}};
}

json scope_json(mp::schema::ScopePolicy::Reader s, const ListLookup& lists) {
  return {{"scope", scope_name(s.getScope())},
          {"blocked", setting_json(s.getBlock())},
          {"block_message", text(s.getBlockMessage())},
          {"web_mode", s.getWebMode() == WebMode::UNKNOWN ? json(nullptr)
                                                          : json(web_mode_name(s.getWebMode()))},
          {"allow_list", list_json(s.getAllowListRef(), s.getAllowList(), lists)},
          {"block_list", list_json(s.getBlockListRef(), s.getBlockList(), lists)},
          {"usb_locked", setting_json(s.getUsbLock())}};
}

std::string domains_cell(mp::schema::EffectivePolicy::Reader e) {
  if (e.getWebMode() == WebMode::OFF) return "-";
  return std::to_string(list_size(e.getDomainList(), e.getDomains()));
}

std::string effective_table(capnp::List<mp::schema::EffectivePolicy>::Reader list) {
  std::vector<std::vector<std::string>> rows;
  for (auto e : list) {
    rows.push_back({station_name(e.getStationKey()), e.getBlocked() ? "blocked" : "-",
                    e.getBlocked() ? text(e.getBlockMessage()) : "", web_mode_name(e.getWebMode()),
                    domains_cell(e), e.getUsbStorageLocked() ? "locked" : "-",
                    "block:" + text(e.getBlockSource()) + " web:" + text(e.getWebSource()) +
                        " usb:" + text(e.getUsbSource())});
  }
  return render_table({"STATION", "BLOCK", "MESSAGE", "WEB", "DOMAINS", "USB", "DECIDED BY"}, rows);
}

std::string scopes_table(capnp::List<mp::schema::ScopePolicy>::Reader scopes) {
  std::vector<std::vector<std::string>> rows;
  for (auto s : scopes) {
    rows.push_back({scope_name(s.getScope()), setting_name(s.getBlock(), "blocked", "unblocked"),
                    text(s.getBlockMessage()),
                    s.getWebMode() == WebMode::UNKNOWN ? "-" : web_mode_name(s.getWebMode()),
                    std::to_string(list_size(s.getAllowListRef(), s.getAllowList())),
                    std::to_string(list_size(s.getBlockListRef(), s.getBlockList())),
                    setting_name(s.getUsbLock(), "locked", "unlocked")});
  }
  return render_table({"SCOPE", "BLOCK", "MESSAGE", "WEB", "ALLOW", "BLOCKLIST", "USB"}, rows);
}

}  // namespace

std::string scope_name(mp::schema::Scope::Reader scope) {
  switch (scope.which()) {
    case mp::schema::Scope::ALL:
      return "all";
    case mp::schema::Scope::GROUP:
      return "group:" + text(scope.getGroup());
    case mp::schema::Scope::STATION:
      return "station:" + text(scope.getStation());
    case mp::schema::Scope::NEW_STATIONS:
      return "new-stations";
  }
  return "?";
}

std::string web_mode_name(WebMode mode) {
  switch (mode) {
    case WebMode::OFF:
      return "off";
    case WebMode::ALLOW_ONLY:
      return "allowOnly";
    case WebMode::BLOCK_ONLY:
      return "blockOnly";
    default:
      return "inherit";
  }
}

std::string schedule_summary(mp::schema::Schedule::Reader s) {
  return clock_name(s.getStartMinute()) + "-" + clock_name(s.getEndMinute()) + " " +
         days_name(s.getDays()) + ": " + action_summary(s.getAction());
}

std::string report_text(mp::schema::PolicyReport::Reader report) {
  std::string out = "Effective policy\n" + effective_table(report.getEffective());
  out += "\nSet per scope\n" + scopes_table(report.getScopes());
  if (report.getGroups().size() > 0) out += "\nGroups\n" + groups_table(report.getGroups());
  if (report.getSchedules().size() > 0) {
    out += "\nSchedules\n" + schedules_table(report.getSchedules());
  }
  return out;
}

json report_json(mp::schema::PolicyReport::Reader report, const ListLookup& lists) {
  json effective = json::array();
  for (auto e : report.getEffective()) effective.push_back(effective_json(e, lists));
  json scopes = json::array();
  for (auto s : report.getScopes()) scopes.push_back(scope_json(s, lists));
  return {{"effective", effective},
          {"scopes", scopes},
          {"groups", groups_json(report.getGroups())},
          {"schedules", schedules_json(report.getSchedules())}};
}

std::string web_text(mp::schema::PolicyReport::Reader report) {
  std::vector<std::vector<std::string>> rows;
  for (auto e : report.getEffective()) {
    rows.push_back({station_name(e.getStationKey()), web_mode_name(e.getWebMode()), domains_cell(e),
                    text(e.getWebSource())});
  }
  std::string out = render_table({"STATION", "WEB", "DOMAINS", "DECIDED BY"}, rows);
  std::string lists;
  for (auto s : report.getScopes()) {
    bool has_mode = s.getWebMode() != WebMode::UNKNOWN;
    std::size_t allow = list_size(s.getAllowListRef(), s.getAllowList());
    std::size_t block = list_size(s.getBlockListRef(), s.getBlockList());
    if (!has_mode && allow == 0 && block == 0) continue;
    lists += scope_name(s.getScope()) + ": " +
             (has_mode ? web_mode_name(s.getWebMode()) : std::string("mode inherited")) + "\n";
    if (allow > 0) {
      lists +=
          "  allow (" + std::to_string(allow) + "): " + shortened(s.getAllowList(), allow) + "\n";
    }
    if (block > 0) {
      lists +=
          "  block (" + std::to_string(block) + "): " + shortened(s.getBlockList(), block) + "\n";
    }
  }
  for (auto s : report.getSchedules()) {
    if (!s.getAction().isWeb()) continue;
    lists += "schedule " + std::to_string(s.getId()) + " (" + scope_name(s.getScope()) + ", " +
             schedule_summary(s) + ")";
    if (s.getAction().getWeb().getDomains().size() > 0) {
      lists += ": " + shortened(s.getAction().getWeb().getDomains());
    }
    lists += "\n";
  }
  if (!lists.empty()) out += "\n" + lists;
  return out;
}

json web_json(mp::schema::PolicyReport::Reader report, const ListLookup& lists) {
  json effective = json::array();
  for (auto e : report.getEffective()) {
    effective.push_back({{"station", text(e.getStationKey())},
                         {"web_mode", web_mode_name(e.getWebMode())},
                         {"domains", list_json(e.getDomainList(), e.getDomains(), lists)},
                         {"web_source", text(e.getWebSource())}});
  }
  json scopes = json::array();
  for (auto s : report.getScopes()) {
    json entry = scope_json(s, lists);
    scopes.push_back({{"scope", entry["scope"]},
                      {"web_mode", entry["web_mode"]},
                      {"allow_list", entry["allow_list"]},
                      {"block_list", entry["block_list"]}});
  }
  return {{"effective", effective}, {"scopes", scopes}};
}

std::string schedules_table(capnp::List<mp::schema::Schedule>::Reader schedules) {
  std::vector<std::vector<std::string>> rows;
  for (auto s : schedules) {
    rows.push_back({std::to_string(s.getId()), scope_name(s.getScope()), days_name(s.getDays()),
                    clock_name(s.getStartMinute()) + "-" + clock_name(s.getEndMinute()),
                    action_summary(s.getAction()), text(s.getLabel())});
  }
  return render_table({"ID", "SCOPE", "DAYS", "TIME", "ACTION", "LABEL"}, rows);
}

json schedules_json(capnp::List<mp::schema::Schedule>::Reader schedules) {
  json out = json::array();
  for (auto s : schedules) {
    out.push_back({{"id", s.getId()},
                   {"scope", scope_name(s.getScope())},
                   {"days", days_name(s.getDays())},
                   {"from", clock_name(s.getStartMinute())},
                   {"to", clock_name(s.getEndMinute())},
                   {"action", action_json(s.getAction())},
                   {"label", text(s.getLabel())}});
  }
  return out;
}

std::string groups_table(capnp::List<mp::schema::Group>::Reader groups) {
  std::vector<std::vector<std::string>> rows;
  for (auto g : groups) {
    std::string members;
    for (auto s : g.getStations()) members += (members.empty() ? "" : " ") + text(s);
    rows.push_back({text(g.getName()), members.empty() ? "-" : members});
  }
  return render_table({"GROUP", "STATIONS"}, rows);
}

json groups_json(capnp::List<mp::schema::Group>::Reader groups) {
  json out = json::array();
  for (auto g : groups) {
    out.push_back({{"name", text(g.getName())}, {"stations", texts_json(g.getStations())}});
  }
  return out;
}

std::string audit_table(mp::schema::AuditLog::Reader log) {
  std::vector<std::vector<std::string>> rows;
  for (auto e : log.getEntries()) {
    std::string stations;
    auto list = e.getStations();
    for (unsigned i = 0; i < list.size() && i < 5; ++i) stations += (i ? " " : "") + text(list[i]);
    if (list.size() > 5) stations += " +" + std::to_string(list.size() - 5);
    rows.push_back({local_time_name(e.getAtNs()), text(e.getOperator()), text(e.getSource()),
                    text(e.getAction()), stations.empty() ? "-" : stations, text(e.getDetail())});
  }
  return render_table({"TIME", "OPERATOR", "VIA", "ACTION", "STATIONS", "DETAIL"}, rows);
}

json audit_json(mp::schema::AuditLog::Reader log) {
  json out = json::array();
  for (auto e : log.getEntries()) {
    out.push_back({{"at_ns", e.getAtNs()},
                   {"at", local_time_name(e.getAtNs())},
                   {"operator", text(e.getOperator())},
                   {"source", text(e.getSource())},
                   {"action", text(e.getAction())},
                   {"detail", text(e.getDetail())},
                   {"stations", texts_json(e.getStations())}});
  }
  return out;
}

std::string local_time_name(std::int64_t realtime_ns) {
  std::time_t seconds = static_cast<std::time_t>(realtime_ns / 1'000'000'000);
  std::tm local{};
  localtime_r(&seconds, &local);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M:%S", &local);
  return out;
}

}  // namespace mp::mpctl
