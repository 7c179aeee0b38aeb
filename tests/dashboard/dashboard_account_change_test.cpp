// Integration: dashboard logins follow account changes. The real mp-dashboard keeps a replica of
// mp-session's accounts; removing, demoting or resetting the password of an account (through
// the Manager, i.e. mp-session's userRemove/userModify) ends that account's logins at once —
// the next request is refused and its open event stream ends without another request.
#include <gtest/gtest.h>

#include "dashboard_system.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAdminPassword = "manager secret 42";
constexpr const char* kTeacherPassword = "lesson plan 42";
constexpr const char* kResetPassword = "a brand new one 77";

class DashboardAccountChange : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(system.wait_ready()) << system.log();
    admin_name = system.add_user("chgadmin", "admin", kAdminPassword);
    teacher_name = system.add_user("chgteacher", "dashboard", kTeacherPassword);
    admin = system.login(admin_name, kAdminPassword);
    ASSERT_EQ(admin.status, 200) << admin.body.dump();
    teacher = system.login(teacher_name, kTeacherPassword);
    ASSERT_EQ(teacher.status, 200) << teacher.body.dump();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- system log ---\n" << system.log();
  }

  // What /api/me answers `login`: its status and error text.
  std::pair<int, std::string> me(const DashboardLogin& login) {
    auto result = system.call("GET", "/api/me", login);
    if (!result) return {0, ""};
    json body = json::parse(result->body, nullptr, false);
    return {result->status, body.is_object() ? body.value("error", "") : ""};
  }

  void manager(const std::string& path, const json& body) {
    auto result = system.call("POST", path, admin, body);
    ASSERT_TRUE(result);
    ASSERT_EQ(result->status, 200) << result->body;
  }

  DashboardSystem system;
  std::string admin_name, teacher_name;
  DashboardLogin admin, teacher;
};

TEST_F(DashboardAccountChange, ARemovedAccountsLoginAndEventStreamEndAtOnce) {
  EventStream stream(system.port(), teacher.cookie);
  ASSERT_TRUE(stream.wait_for_text("event: hello", 10s)) << stream.text();
  manager("/api/manager/users/remove", {{"name", teacher_name}});
  // No request of the teacher's in between: the stream ends because the account went.
  EXPECT_TRUE(eventually([&] { return stream.ended(); }, 10s)) << stream.text();
  auto [status, error] = me(teacher);
  EXPECT_EQ(status, 401);
  EXPECT_EQ(error, "log in first") << "the login is gone, not only refused";
  EXPECT_EQ(me(admin).first, 200) << "other logins go on";
  EXPECT_NE(system.log().find("the dashboard login of " + teacher_name), std::string::npos);
}

TEST_F(DashboardAccountChange, ADemotedAccountsLoginEndsAtOnce) {
  EventStream stream(system.port(), teacher.cookie);
  ASSERT_TRUE(stream.wait_for_text("event: hello", 10s)) << stream.text();
  manager("/api/manager/users/modify", {{"name", teacher_name}, {"role", "standard"}});
  EXPECT_TRUE(eventually([&] { return stream.ended(); }, 10s)) << stream.text();
  EXPECT_EQ(me(teacher).first, 401);
  auto again = system.login(teacher_name, kTeacherPassword);
  EXPECT_EQ(again.status, 403) << "role standard may not use the dashboard: " << again.body.dump();
}

TEST_F(DashboardAccountChange, AnAdminDemotedToDashboardLosesTheManagerAtOnce) {
  auto second_admin_name = system.add_user("chgadmin2x", "admin", kAdminPassword);
  auto second = system.login(second_admin_name, kAdminPassword);
  ASSERT_EQ(second.status, 200) << second.body.dump();
  ASSERT_EQ(system.call("GET", "/api/manager/users", second)->status, 200);
  manager("/api/manager/users/modify", {{"name", second_admin_name}, {"role", "dashboard"}});
  EXPECT_TRUE(eventually([&] { return me(second).first == 401; }, 10s));
  auto result = system.call("GET", "/api/manager/users", second);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 401) << result->body;
  // Logging in again gives the new role: the page, not the Manager.
  auto again = system.login(second_admin_name, kAdminPassword);
  ASSERT_EQ(again.status, 200) << again.body.dump();
  EXPECT_EQ(again.body.value("role", ""), "dashboard");
  EXPECT_EQ(system.call("GET", "/api/manager/users", again)->status, 403);
}

TEST_F(DashboardAccountChange, APasswordResetEndsTheLoginsMadeBeforeIt) {
  EventStream stream(system.port(), teacher.cookie);
  ASSERT_TRUE(stream.wait_for_text("event: hello", 10s)) << stream.text();
  manager("/api/manager/users/modify", {{"name", teacher_name}, {"password", kResetPassword}});
  EXPECT_TRUE(eventually([&] { return stream.ended(); }, 10s)) << stream.text();
  EXPECT_EQ(me(teacher).first, 401);
  EXPECT_EQ(system.login(teacher_name, kTeacherPassword).status, 401) << "the old password";
  auto fresh = system.login(teacher_name, kResetPassword);
  ASSERT_EQ(fresh.status, 200) << fresh.body.dump();
  EXPECT_EQ(me(fresh).first, 200) << "a login after the reset stays";
}

}  // namespace
}  // namespace mp::test
