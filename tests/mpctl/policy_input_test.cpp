// What the policy commands read (lists, days, times) and print, without a bus.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include <ctime>

#include "policy_input.h"
#include "policy_tables.h"

namespace mp::mpctl {
namespace {

TEST(MpctlPolicyInput, ListImportFromHostsFile) {
  DomainListFile list = parse_domain_list(
      "# a hosts file\r\n"
      "127.0.0.1 localhost\r\n"
      "::1 ip6-localhost ip6-loopback\n"
      "0.0.0.0 0.0.0.0\n"
      "0.0.0.0 ads.example.com\n"
      "0.0.0.0   tracker.example  metrics.example # two names\n"
      "\n"
      "plain.example\n"
      "  indented.example  \n"
      "0.0.0.0 ads.example.com\n"
      "10.0.0.1\n");
  ASSERT_TRUE(list.error.empty()) << list.error;
  EXPECT_EQ(list.domains,
            (std::vector<std::string>{"ads.example.com", "tracker.example", "metrics.example",
                                      "plain.example", "indented.example"}));
  EXPECT_EQ(list.skipped, 5u);  // localhost, ip6-localhost, ip6-loopback, 0.0.0.0, bare address
}

TEST(MpctlPolicyInput, ListWithTwoWordsOnALineIsRefused) {
  DomainListFile list = parse_domain_list("good.example\nnot a list\n");
  EXPECT_EQ(list.error.rfind("line 2:", 0), 0u) << list.error;
}

TEST(MpctlPolicyInput, DaysAndClock) {
  EXPECT_EQ(parse_days("mon-fri"), std::optional<std::uint8_t>(0b0011111));
  EXPECT_EQ(parse_days("Mon,Wed,Fri"), std::optional<std::uint8_t>(0b0010101));
  EXPECT_EQ(parse_days("sat-sun"), std::optional<std::uint8_t>(0b1100000));
  EXPECT_EQ(parse_days("fri-mon"), std::optional<std::uint8_t>(0b1110001));
  EXPECT_EQ(parse_days("weekdays"), std::optional<std::uint8_t>(0b0011111));
  EXPECT_EQ(parse_days("daily"), std::optional<std::uint8_t>(0b1111111));
  EXPECT_EQ(parse_days("monday"), std::optional<std::uint8_t>(1));
  EXPECT_FALSE(parse_days(""));
  EXPECT_FALSE(parse_days("mon-"));
  EXPECT_FALSE(parse_days("funday"));
  EXPECT_EQ(days_name(0b0011111), "mon-fri");
  EXPECT_EQ(days_name(0b0010101), "mon,wed,fri");
  EXPECT_EQ(days_name(0b1111111), "daily");

  EXPECT_EQ(parse_clock("09:00", false), std::optional<std::uint16_t>(540));
  EXPECT_EQ(parse_clock("9:05", false), std::optional<std::uint16_t>(545));
  EXPECT_EQ(parse_clock("23:59", false), std::optional<std::uint16_t>(1439));
  EXPECT_EQ(parse_clock("24:00", true), std::optional<std::uint16_t>(1440));
  EXPECT_FALSE(parse_clock("24:00", false));
  EXPECT_FALSE(parse_clock("12:60", false));
  EXPECT_FALSE(parse_clock("noon", false));
  EXPECT_FALSE(parse_clock("1200", false));
  EXPECT_EQ(clock_name(540), "09:00");
}

TEST(MpctlPolicyInput, ScheduleRowsAndJson) {
  capnp::MallocMessageBuilder message;
  auto list = message.initRoot<mp::schema::ScheduleList>().initSchedules(1);
  list[0].setId(3);
  list[0].initScope().setGroup("lab");
  list[0].setDays(0b0011111);
  list[0].setStartMinute(540);
  list[0].setEndMinute(720);
  auto web = list[0].initAction().initWeb();
  web.setMode(mp::schema::WebMode::BLOCK_ONLY);
  web.initDomains(2).set(0, "a.example");
  web.getDomains().set(1, "b.example");
  list[0].setLabel("morning");
  EXPECT_EQ(schedules_table(list.asReader()),
            "ID  SCOPE      DAYS     TIME         ACTION                     LABEL\n"
            "3   group:lab  mon-fri  09:00-12:00  web blockOnly (2 domains)  morning\n");
  auto json = schedules_json(list.asReader());
  EXPECT_EQ(json[0]["id"], 3);
  EXPECT_EQ(json[0]["scope"], "group:lab");
  EXPECT_EQ(json[0]["days"], "mon-fri");
  EXPECT_EQ(json[0]["from"], "09:00");
  EXPECT_EQ(json[0]["action"]["web"]["domains"][1], "b.example");
}

TEST(PolicyInput, SinceReadsDurationsAndLocalDates) {
  constexpr std::int64_t kSecond = 1'000'000'000;
  const std::int64_t now = 1'800'000'000 * kSecond;
  EXPECT_EQ(parse_since("90s", now), now - 90 * kSecond);
  EXPECT_EQ(parse_since("30m", now), now - 1800 * kSecond);
  EXPECT_EQ(parse_since("2h", now), now - 7200 * kSecond);
  EXPECT_EQ(parse_since("7d", now), now - 7 * 86400 * kSecond);

  std::tm local{};
  local.tm_year = 2026 - 1900;
  local.tm_mon = 10;
  local.tm_mday = 22;
  local.tm_hour = 9;
  local.tm_min = 30;
  local.tm_isdst = -1;
  const std::int64_t half_past_nine = static_cast<std::int64_t>(std::mktime(&local)) * kSecond;
  EXPECT_EQ(parse_since("2026-11-22T09:30", now), half_past_nine);
  EXPECT_EQ(parse_since("2026-11-22 09:30", now), half_past_nine);
  EXPECT_EQ(parse_since("2026-11-22", now), half_past_nine - (9 * 60 + 30) * 60 * kSecond);

  for (const char* bad : {"", "s", "5", "5w", "-5m", "yesterday", "2026-02-30", "2026-13-01",
                          "2026-11-22T24:00", "2026-11-22X09:30", "26-11-22"}) {
    EXPECT_FALSE(parse_since(bad, now)) << bad;
  }
}

}  // namespace
}  // namespace mp::mpctl
