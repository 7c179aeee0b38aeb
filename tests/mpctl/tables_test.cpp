#include "tables.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

namespace mp::mpctl {
namespace {

TEST(MpctlTables, UptimeIsShortAndReadable) {
  EXPECT_EQ(format_uptime(0), "0s");
  EXPECT_EQ(format_uptime(42), "42s");
  EXPECT_EQ(format_uptime(312), "5m12s");
  EXPECT_EQ(format_uptime(7380), "2h03m");
  EXPECT_EQ(format_uptime(200000), "2d07h");
}

TEST(MpctlTables, ColumnsAreAligned) {
  std::string table = render_table({"A", "LONGER"}, {{"wide cell", "x"}, {"b", "y"}});
  EXPECT_EQ(table,
            "A          LONGER\n"
            "wide cell  x\n"
            "b          y\n");
}

TEST(MpctlTables, StatusRowsShowHexIncarnationAndUnknowns) {
  capnp::MallocMessageBuilder message;
  auto report = message.initRoot<mp::schema::StatusReport>();
  auto services = report.initServices(2);
  services[0].setName("bus");
  services[0].setPid(10);
  services[0].setIncarnation(0xabcdef);
  services[0].setState(mp::schema::ServiceState::RUNNING);
  services[0].setStartedAtNs(1'000'000'000);
  services[1].setName("session");
  services[1].setState(mp::schema::ServiceState::FAILED);
  services[1].setRestarts(6);
  services[1].setLastExit("exited 1");

  auto rows = rows_from_status(report.asReader(), 61'000'000'000);
  nlohmann::json json = services_json(rows);
  EXPECT_EQ(json[0]["incarnation"], "0000000000abcdef");
  EXPECT_EQ(json[0]["uptime_s"], 60);
  EXPECT_EQ(json[0]["pid"], 10);
  EXPECT_TRUE(json[1]["pid"].is_null());
  EXPECT_TRUE(json[1]["uptime_s"].is_null());
  EXPECT_EQ(json[1]["state"], "failed");
  EXPECT_EQ(json[1]["restarts"], 6);
  EXPECT_EQ(json[1]["last_exit"], "exited 1");

  std::string table = services_table(rows);
  EXPECT_NE(table.find("0000000000abcdef"), std::string::npos) << table;
  EXPECT_NE(table.find("1m00s"), std::string::npos) << table;
}

TEST(MpctlTables, BusStatusRowsHaveNoRestarts) {
  capnp::MallocMessageBuilder message;
  auto status = message.initRoot<mp::schema::BusStatus>();
  status.setIncarnation(1);
  auto entries = status.initServices(1);
  entries[0].setName("session");
  entries[0].setPid(77);
  entries[0].setIncarnation(2);
  auto rows = rows_from_bus_status(status.asReader(), 0);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].service, "bus");
  EXPECT_EQ(rows[1].pid, 77u);
  EXPECT_TRUE(services_json(rows)[1]["restarts"].is_null());
}

TEST(MpctlTables, RolesRoundTrip) {
  for (std::string name : {"standard", "admin", "dashboard"}) {
    auto role = role_from_name(name);
    ASSERT_TRUE(role.has_value()) << name;
    EXPECT_EQ(role_name(*role), name);
  }
  EXPECT_FALSE(role_from_name("king").has_value());
}

}  // namespace
}  // namespace mp::mpctl
