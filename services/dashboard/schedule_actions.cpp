// OperatorActions: schedules (mp-policy's scheduleListRequest, scheduleAdd, scheduleRemove).
// mp-policy records these in its audit log itself.
#include <kj/exception.h>

#include "operator_actions.h"

namespace mp::dashboard {

using mp::bus::Reply;
using mp::schema::Envelope;
using nlohmann::json;

void OperatorActions::list_schedules(Respond respond) {
  client_.request(
      "policy", [](Envelope::Builder e) { e.initScheduleListRequest(); },
      mp::bus::RequestOptions{.deadline = deadline_},
      [this, respond = std::move(respond)](Reply reply) {
        try {
          if (!reply.ok() || !reply.envelope().isScheduleList()) {
            respond(error_outcome(status_for(reply), failure_text("policy", reply, deadline_)));
            return;
          }
          json list = json::array();
          for (auto s : reply.envelope().getScheduleList().getSchedules()) {
            list.push_back(schedule_json(s));
          }
          respond(Outcome{200, json{{"schedules", std::move(list)}}});
        } catch (const kj::Exception& e) {
          respond(
              error_outcome(502, "unreadable reply: " + std::string(e.getDescription().cStr())));
        }
      });
}

void OperatorActions::add_schedule(const std::string& operator_name, const Selection& selection,
                                   const ScheduleForm& form, Respond respond) {
  set_policy(
      operator_name, selection,
      [form](Envelope::Builder e) {
        auto schedule = e.initScheduleAdd().initSchedule();
        fill_schedule(schedule, form);
        return schedule.initScope();
      },
      std::move(respond));
}

void OperatorActions::remove_schedule(const std::string& operator_name, std::uint64_t id,
                                      Respond respond) {
  client_.request(
      "policy",
      [&](Envelope::Builder e) {
        e.getHeader().setOperator(operator_name);
        e.initScheduleRemove().setId(id);
      },
      mutating(),
      [this, respond = std::move(respond)](Reply reply) {
        if (!reply.ok()) {
          respond(error_outcome(status_for(reply), failure_text("policy", reply, deadline_)));
          return;
        }
        respond(Outcome{200, json{{"ok", true}}});
      });
}

}  // namespace mp::dashboard
