#include "schedule_json.h"
#include "capnp_text.h"

#include <array>
#include <cstdio>

#include "json_input.h"

namespace mp::dashboard {

using nlohmann::json;

namespace {

constexpr std::array<const char*, 7> kDays = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
constexpr std::size_t kMaxLabel = 100;
constexpr std::size_t kMaxMessage = 500;
constexpr std::size_t kMaxDomains = 2000;
constexpr std::size_t kMaxDomainChars = 253;

const char* web_mode_name(mp::schema::WebMode mode) {
  switch (mode) {
    case mp::schema::WebMode::OFF:
      return "off";
    case mp::schema::WebMode::ALLOW_ONLY:
      return "allow_only";
    case mp::schema::WebMode::BLOCK_ONLY:
      return "block_only";
    default:
      return "inherit";
  }
}

std::string read_action(const json& action, ScheduleForm* out) {
  if (!action.is_object()) return "'action' must be an object with a 'type'";
  if (auto e = read_text(action, "type", 16, true, &out->action); !e.empty()) return e;
  if (out->action == "block") {
    return read_text(action, "message", kMaxMessage, false, &out->message);
  }
  if (out->action == "usb_lock") return "";
  if (out->action != "web") return "'action.type' must be block, web or usb_lock";
  std::string mode;
  if (auto e = read_text(action, "mode", 16, true, &mode); !e.empty()) return e;
  if (mode == "off") {
    out->web_mode = mp::schema::WebMode::OFF;
  } else if (mode == "allow_only") {
    out->web_mode = mp::schema::WebMode::ALLOW_ONLY;
  } else if (mode == "block_only") {
    out->web_mode = mp::schema::WebMode::BLOCK_ONLY;
  } else {
    return "'action.mode' must be off, allow_only or block_only";
  }
  auto list = action.find("domains");
  if (out->web_mode == mp::schema::WebMode::OFF) {
    return list == action.end() ? "" : "'action.domains' only go with allow_only or block_only";
  }
  if (list == action.end() || !list->is_array() || list->size() > kMaxDomains) {
    return "'action.domains' must be a list of at most " + std::to_string(kMaxDomains) + " names";
  }
  for (const auto& item : *list) {
    if (!item.is_string() || item.get<std::string>().empty() ||
        item.get<std::string>().size() > kMaxDomainChars) {
      return "each domain must be a name of 1 to 253 characters";
    }
    out->domains.push_back(item.get<std::string>());
  }
  return "";
}

}  // namespace

int minute_of(const std::string& text) {
  if (text.size() != 5 || text[2] != ':') return -1;
  for (int i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') return -1;
  }
  int hours = (text[0] - '0') * 10 + (text[1] - '0');
  int minutes = (text[3] - '0') * 10 + (text[4] - '0');
  if (minutes > 59 || hours > 24 || (hours == 24 && minutes != 0)) return -1;
  return hours * 60 + minutes;
}

std::string time_text(int minute) {
  if (minute < 0 || minute > 1440) return "??:??";
  char out[16];
  std::snprintf(out, sizeof(out), "%02d:%02d", minute / 60, minute % 60);
  return out;
}

std::string read_schedule_form(const json& body, ScheduleForm* out) {
  auto days = body.find("days");
  if (days == body.end() || !days->is_array() || days->empty() || days->size() > 7) {
    return "'days' must be a list of days: mon, tue, wed, thu, fri, sat, sun";
  }
  for (const auto& day : *days) {
    bool known = false;
    for (std::size_t i = 0; i < kDays.size(); ++i) {
      if (day.is_string() && day.get<std::string>() == kDays[i]) {
        out->days |= static_cast<std::uint8_t>(1u << i);
        known = true;
      }
    }
    if (!known) return "'days' must be a list of days: mon, tue, wed, thu, fri, sat, sun";
  }
  std::string from, to;
  if (auto e = read_text(body, "from", 5, true, &from); !e.empty()) return e;
  if (auto e = read_text(body, "to", 5, true, &to); !e.empty()) return e;
  int start = minute_of(from), end = minute_of(to);
  if (start < 0 || start >= 1440 || end < 0) return "'from' and 'to' are times like 09:30";
  if (end <= start) return "'to' must be after 'from' (a schedule does not cross midnight)";
  out->start_minute = static_cast<std::uint16_t>(start);
  out->end_minute = static_cast<std::uint16_t>(end);
  if (auto e = read_text(body, "label", kMaxLabel, false, &out->label); !e.empty()) return e;
  auto action = body.find("action");
  if (action == body.end()) return "'action' is missing";
  return read_action(*action, out);
}

void fill_schedule(mp::schema::Schedule::Builder out, const ScheduleForm& form) {
  out.setDays(form.days);
  out.setStartMinute(form.start_minute);
  out.setEndMinute(form.end_minute);
  out.setLabel(form.label);
  auto action = out.initAction();
  if (form.action == "block") {
    action.setBlock(form.message);
  } else if (form.action == "usb_lock") {
    action.setUsbLock();
  } else {
    auto web = action.initWeb();
    web.setMode(form.web_mode);
    auto domains = web.initDomains(static_cast<unsigned>(form.domains.size()));
    for (unsigned i = 0; i < form.domains.size(); ++i) domains.set(i, form.domains[i]);
  }
}

json schedule_json(mp::schema::Schedule::Reader schedule) {
  json days = json::array();
  for (std::size_t i = 0; i < kDays.size(); ++i) {
    if (schedule.getDays() & (1u << i)) days.push_back(kDays[i]);
  }
  json scope = "all";
  auto s = schedule.getScope();
  if (s.isStation()) scope = json{{"station", text(s.getStation())}};
  if (s.isGroup()) scope = json{{"group", text(s.getGroup())}};
  json action;
  auto a = schedule.getAction();
  if (a.isBlock()) {
    action = json{{"type", "block"}, {"message", text(a.getBlock())}};
  } else if (a.isUsbLock()) {
    action = json{{"type", "usb_lock"}};
  } else {
    json domains = json::array();
    for (auto d : a.getWeb().getDomains()) domains.push_back(text(d));
    action =
        json{{"type", "web"}, {"mode", web_mode_name(a.getWeb().getMode())}, {"domains", domains}};
  }
  return json{{"id", schedule.getId()},
              {"scope", scope},
              {"days", days},
              {"from", time_text(schedule.getStartMinute())},
              {"to", time_text(schedule.getEndMinute())},
              {"label", text(schedule.getLabel())},
              {"action", action}};
}

}  // namespace mp::dashboard
