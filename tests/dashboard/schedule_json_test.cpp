// Unit: schedules between the page's JSON and mp-policy's Schedule — the form's checks refuse
// what the page must not send, and a schedule filled from a form reads back the same.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include "schedule_json.h"

namespace mp::dashboard {
namespace {

using nlohmann::json;

json lesson_block() {
  return json{{"days", {"mon", "wed"}},
              {"from", "09:00"},
              {"to", "10:30"},
              {"label", "maths"},
              {"action", {{"type", "block"}, {"message", "Eyes on me"}}}};
}

TEST(ScheduleJson, TimesAreHoursAndMinutesWithinADay) {
  EXPECT_EQ(minute_of("00:00"), 0);
  EXPECT_EQ(minute_of("09:30"), 570);
  EXPECT_EQ(minute_of("24:00"), 1440);
  for (const char* bad : {"24:01", "9:30", "09:60", "ab:cd", "", "09-30", "009:30"}) {
    EXPECT_EQ(minute_of(bad), -1) << bad;
  }
  EXPECT_EQ(time_text(570), "09:30");
  EXPECT_EQ(time_text(1440), "24:00");
}

TEST(ScheduleJson, AFormReadsBackTheSameAfterFillingASchedule) {
  ScheduleForm form;
  ASSERT_EQ(read_schedule_form(lesson_block(), &form), "");
  capnp::MallocMessageBuilder message;
  auto schedule = message.initRoot<mp::schema::Schedule>();
  fill_schedule(schedule, form);
  schedule.initScope().setStation("rdp:lab-1");
  schedule.setId(7);
  json back = schedule_json(schedule.asReader());
  EXPECT_EQ(back["id"], 7);
  EXPECT_EQ(back["days"], json({"mon", "wed"}));
  EXPECT_EQ(back["from"], "09:00");
  EXPECT_EQ(back["to"], "10:30");
  EXPECT_EQ(back["label"], "maths");
  EXPECT_EQ(back["scope"], json({{"station", "rdp:lab-1"}}));
  EXPECT_EQ(back["action"], json({{"type", "block"}, {"message", "Eyes on me"}}));
}

TEST(ScheduleJson, AWebWindowKeepsItsModeAndDomains) {
  json body = lesson_block();
  body["action"] = {{"type", "web"}, {"mode", "allow_only"}, {"domains", {"example.org"}}};
  ScheduleForm form;
  ASSERT_EQ(read_schedule_form(body, &form), "");
  capnp::MallocMessageBuilder message;
  auto schedule = message.initRoot<mp::schema::Schedule>();
  fill_schedule(schedule, form);
  json back = schedule_json(schedule.asReader());
  EXPECT_EQ(back["scope"], "all");
  EXPECT_EQ(back["action"]["mode"], "allow_only");
  EXPECT_EQ(back["action"]["domains"], json({"example.org"}));
}

TEST(ScheduleJson, MalformedFormsAreRefusedWithTheirReason) {
  struct Case {
    const char* field;
    json value;
    const char* reason_part;
  };
  const Case cases[] = {
      {"days", json::array(), "days"},
      {"days", {"someday"}, "days"},
      {"from", "9am", "times like"},
      {"to", "08:00", "after 'from'"},
      {"to", "09:00", "after 'from'"},
      {"action", {{"type", "reboot"}}, "block, web or usb_lock"},
      {"action", {{"type", "web"}, {"mode", "allow_only"}}, "domains"},
      {"action", {{"type", "web"}, {"mode", "off"}, {"domains", {"a.org"}}}, "only go with"},
      {"action", {{"type", "web"}, {"mode", "allow_only"}, {"domains", {""}}}, "1 to 253"},
      {"label", std::string(101, 'x'), "label"},
  };
  for (const auto& c : cases) {
    json body = lesson_block();
    body[c.field] = c.value;
    ScheduleForm form;
    std::string reason = read_schedule_form(body, &form);
    EXPECT_NE(reason.find(c.reason_part), std::string::npos)
        << c.field << " = " << c.value.dump() << " gave: '" << reason << "'";
  }
  json no_action = lesson_block();
  no_action.erase("action");
  ScheduleForm form;
  EXPECT_EQ(read_schedule_form(no_action, &form), "'action' is missing");
}

}  // namespace
}  // namespace mp::dashboard
