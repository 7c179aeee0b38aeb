// Schedules between the page's JSON and mp-policy's Schedule: what the dashboard shows and what
// its form sends. Pure, so the checks are tested without a server. mp-policy checks again (it is
// the authority); these checks only keep nothing huge or malformed from crossing the bus.
//
// {"days": ["mon", ...], "from": "09:00", "to": "12:00", "label": "...",
//  "action": {"type": "block", "message": "..."}
//          | {"type": "web", "mode": "allow_only" | "block_only" | "off", "domains": [...]}
//          | {"type": "usb_lock"}}
// and, when listed, "id" and "scope": "all" | {"station": key} | {"group": name}.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "policy.capnp.h"

namespace mp::dashboard {

struct ScheduleForm {
  std::uint8_t days = 0;  // bit 0 = Monday
  std::uint16_t start_minute = 0;
  std::uint16_t end_minute = 0;
  std::string label;
  std::string action;  // block, web, usb_lock
  std::string message;
  mp::schema::WebMode web_mode = mp::schema::WebMode::UNKNOWN;
  std::vector<std::string> domains;
};

// The form's fields (everything but the stations) from a request body; an error text, or "".
std::string read_schedule_form(const nlohmann::json& body, ScheduleForm* out);
// Fills everything but the scope.
void fill_schedule(mp::schema::Schedule::Builder out, const ScheduleForm& form);
nlohmann::json schedule_json(mp::schema::Schedule::Reader schedule);

// "09:30" -> 570; 24:00 is 1440. -1 if malformed.
int minute_of(const std::string& text);
std::string time_text(int minute);

}  // namespace mp::dashboard
