// Integration: the Manager part of mp-dashboard (users, station names, services, audit log) in
// front of the real mp-bus, mp-session, mp-policy and mp-supervisor, spoken to over HTTP.
#include <gtest/gtest.h>
#include <unistd.h>

#include "dashboard_system.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kAdminPassword = "manager secret 42";
constexpr const char* kTeacherPassword = "lesson plan 42";
constexpr const char* kNewPassword = "fresh account 9876";

class DashboardManager : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(system.wait_ready()) << system.log();
    admin_name = system.add_user("mgradmin", "admin", kAdminPassword);
    teacher_name = system.add_user("mgrteacher", "dashboard", kTeacherPassword);
    admin = system.login(admin_name, kAdminPassword);
    ASSERT_EQ(admin.status, 200) << admin.body.dump();
  }
  void TearDown() override {
    // Accounts the API made are Linux accounts too when run as root.
    for (const auto& name : made_here) remove_linux_account(name);
    if (HasFailure()) std::cerr << "--- system log ---\n" << system.log();
  }

  json get(const std::string& path, const DashboardLogin& login, int* status = nullptr) {
    auto result = system.call("GET", path, login);
    if (status) *status = result ? result->status : 0;
    if (!result) return json();
    return json::parse(result->body, nullptr, false);
  }

  // The role of `name` in /api/manager/users; "" when not listed.
  std::string role_of(const std::string& name) {
    json users = get("/api/manager/users", admin);
    if (!users.contains("users")) return "";
    for (const auto& user : users["users"]) {
      if (user["name"] == name) return user["role"];
    }
    return "";
  }

  json station(const std::string& key) {
    json list = get("/api/manager/stations", admin);
    if (!list.contains("stations")) return json();
    for (const auto& s : list["stations"]) {
      if (s["key"] == key) return s;
    }
    return json();
  }

  DashboardSystem system;
  std::string admin_name, teacher_name;
  DashboardLogin admin;
  std::vector<std::string> made_here;
};

TEST_F(DashboardManager, AdminListsAddsAndRemovesUsers) {
  EXPECT_TRUE(eventually([&] { return role_of(admin_name) == "admin"; }, 10s));
  EXPECT_EQ(role_of(teacher_name), "dashboard");

  std::string fresh = "mgrnew" + std::to_string(getpid());
  made_here.push_back(fresh);
  auto added = system.call("POST", "/api/manager/users/add", admin,
                           {{"name", fresh}, {"role", "dashboard"}, {"password", kNewPassword}});
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 200) << added->body;
  EXPECT_TRUE(eventually([&] { return role_of(fresh) == "dashboard"; }, 10s));
  // A real account: it logs in to the dashboard.
  EXPECT_EQ(system.login(fresh, kNewPassword).status, 200);

  auto again = system.call("POST", "/api/manager/users/add", admin,
                           {{"name", fresh}, {"role", "standard"}, {"password", kNewPassword}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 400) << "an existing name is refused: " << again->body;

  // A new role and a new password, each applied by mp-session.
  auto promoted =
      system.call("POST", "/api/manager/users/modify", admin, {{"name", fresh}, {"role", "admin"}});
  ASSERT_TRUE(promoted);
  ASSERT_EQ(promoted->status, 200) << promoted->body;
  EXPECT_TRUE(eventually([&] { return role_of(fresh) == "admin"; }, 10s));
  const std::string second_password = std::string(kNewPassword) + "-2";
  auto reset = system.call("POST", "/api/manager/users/modify", admin,
                           {{"name", fresh}, {"password", second_password}});
  ASSERT_TRUE(reset);
  ASSERT_EQ(reset->status, 200) << reset->body;
  EXPECT_EQ(system.login(fresh, kNewPassword).status, 401);
  EXPECT_EQ(system.login(fresh, second_password).status, 200);

  auto removed = system.call("POST", "/api/manager/users/remove", admin, {{"name", fresh}});
  ASSERT_TRUE(removed);
  ASSERT_EQ(removed->status, 200) << removed->body;
  EXPECT_TRUE(eventually([&] { return role_of(fresh).empty(); }, 10s));
  EXPECT_EQ(system.login(fresh, kNewPassword).status, 401);
}

TEST_F(DashboardManager, BadUserInputIsRefusedWithAReason) {
  struct Case {
    std::string path;
    json body;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/manager/users/add", {{"name", "x"}, {"role", "root"}, {"password", "p"}}, "role"},
           {"/api/manager/users/add", {{"name", "x"}, {"role", "admin"}}, "password"},
           {"/api/manager/users/add",
            {{"name", std::string(65, 'a')}, {"role", "admin"}, {"password", kNewPassword}},
            "name"},
           {"/api/manager/users/add",
            {{"name", "x"}, {"role", "admin"}, {"password", kNewPassword}, {"extra", 1}},
            "unknown field"},
           {"/api/manager/users/remove", {{"name", admin_name}}, "logged in with"},
           {"/api/manager/users/modify", {{"name", admin_name}}, "role or a password"},
           {"/api/manager/users/modify", {{"name", admin_name}, {"role", "standard"}}, "admin"},
           {"/api/manager/users/modify", {{"name", "x"}, {"role", "root"}}, "role"},
           {"/api/manager/users/modify", {{"name", "nobody"}, {"role", "admin"}}, "nobody"},
           {"/api/manager/users/modify", {{"name", admin_name}, {"password", "short"}}, "password"},
           {"/api/manager/stations/rename", {{"key", "no such/key!"}, {"name", "A"}}, ""},
           {"/api/manager/services/restart", {{"service", "../bus"}}, "service"},
       }) {
    auto result = system.call("POST", c.path, admin, c.body);
    ASSERT_TRUE(result) << c.path;
    EXPECT_EQ(result->status, 400) << c.path << " " << c.body.dump() << ": " << result->body;
    EXPECT_NE(result->body.find(c.says), std::string::npos) << result->body;
  }
  int status = 0;
  get("/api/manager/audit?limit=0", admin, &status);
  EXPECT_EQ(status, 400);
  get("/api/manager/audit?limit=ten", admin, &status);
  EXPECT_EQ(status, 400);
}

TEST_F(DashboardManager, AdminRenamesAStationAndSeesItsTransportAndAddress) {
  ASSERT_TRUE(system.attach_stations({"mgr-seat"}));
  ASSERT_TRUE(eventually([&] { return !station("fake:mgr-seat").is_null(); }, 10s));
  json before = station("fake:mgr-seat");
  EXPECT_EQ(before["transport"], "fake-transport");
  EXPECT_EQ(before["address"], "10.0.0.1");

  auto renamed = system.call("POST", "/api/manager/stations/rename", admin,
                             {{"key", "fake:mgr-seat"}, {"name", "Front row left"}});
  ASSERT_TRUE(renamed);
  ASSERT_EQ(renamed->status, 200) << renamed->body;
  EXPECT_TRUE(
      eventually([&] { return station("fake:mgr-seat")["name"] == "Front row left"; }, 10s));

  auto unknown = system.call("POST", "/api/manager/stations/rename", admin,
                             {{"key", "fake:nowhere"}, {"name", "X"}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400);
  EXPECT_NE(unknown->body.find("no station"), std::string::npos) << unknown->body;
}

TEST_F(DashboardManager, ADashboardRoleLoginIsRefusedOnEveryManagerEndpoint) {
  DashboardLogin teacher = system.login(teacher_name, kTeacherPassword);
  ASSERT_EQ(teacher.status, 200);
  for (const char* path : {"/api/manager/users", "/api/manager/stations", "/api/manager/services",
                           "/api/manager/audit"}) {
    auto result = system.call("GET", path, teacher);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 403) << path << ": " << result->body;
    EXPECT_NE(result->body.find("role admin"), std::string::npos) << result->body;
  }
  std::string victim = "mgrvictim" + std::to_string(getpid());
  made_here.push_back(victim);
  const std::vector<std::pair<std::string, json>> posts = {
      {"/api/manager/users/add", {{"name", victim}, {"role", "admin"}, {"password", kNewPassword}}},
      {"/api/manager/users/remove", {{"name", admin_name}}},
      {"/api/manager/stations/rename", {{"key", "fake:a"}, {"name", "A"}}},
      {"/api/manager/services/restart", {{"service", "policy"}}},
  };
  for (const auto& [path, body] : posts) {
    auto result = system.call("POST", path, teacher, body);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 403) << path << ": " << result->body;
  }
  // Nothing happened: no new account, the admin is still there.
  EXPECT_TRUE(role_of(victim).empty());
  EXPECT_EQ(role_of(admin_name), "admin");
  // The page sends teachers back to their dashboard, which they keep.
  auto page = system.http()->Get("/manager", httplib::Headers{{"Cookie", teacher.cookie}});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 302);
  EXPECT_EQ(page->get_header_value("Location"), "/");
  int status = 0;
  get("/api/stations", teacher, &status);
  EXPECT_EQ(status, 200);
  auto admin_page = system.http()->Get("/manager", httplib::Headers{{"Cookie", admin.cookie}});
  ASSERT_TRUE(admin_page);
  EXPECT_EQ(admin_page->status, 200);
  EXPECT_NE(admin_page->body.find("MultiPoint Manager"), std::string::npos);
}

TEST_F(DashboardManager, ManagerCallsWithoutTheCsrfTokenAreRefused) {
  std::string fresh = "mgrnocsrf" + std::to_string(getpid());
  made_here.push_back(fresh);
  const std::vector<std::pair<std::string, json>> posts = {
      {"/api/manager/users/add", {{"name", fresh}, {"role", "admin"}, {"password", kNewPassword}}},
      {"/api/manager/users/remove", {{"name", teacher_name}}},
      {"/api/manager/stations/rename", {{"key", "fake:a"}, {"name", "A"}}},
      {"/api/manager/services/restart", {{"service", "policy"}}},
  };
  for (const auto& [path, body] : posts) {
    auto result = system.call("POST", path, admin, body, /*with_csrf=*/false);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 403) << path << ": " << result->body;
    EXPECT_NE(result->body.find("X-CSRF-Token"), std::string::npos) << result->body;
  }
  EXPECT_TRUE(role_of(fresh).empty());
  EXPECT_EQ(role_of(teacher_name), "dashboard");
}

TEST_F(DashboardManager, TheAuditLogShowsABlockWithTheOperatorsName) {
  ASSERT_TRUE(system.attach_stations({"mgr-audit"}));
  DashboardLogin teacher = system.login(teacher_name, kTeacherPassword);
  ASSERT_EQ(teacher.status, 200);
  auto blocked = system.call("POST", "/api/block", teacher,
                             {{"stations", {"fake:mgr-audit"}}, {"message", "Pens down"}});
  ASSERT_TRUE(blocked);
  ASSERT_EQ(blocked->status, 200) << blocked->body;
  auto unblocked = system.call("POST", "/api/unblock", admin, {{"stations", {"fake:mgr-audit"}}});
  ASSERT_TRUE(unblocked);
  ASSERT_EQ(unblocked->status, 200) << unblocked->body;

  json log = get("/api/manager/audit?limit=10", admin);
  ASSERT_TRUE(log.contains("entries")) << log.dump();
  ASSERT_GE(log["entries"].size(), 2u) << log.dump();
  // Newest first.
  const json& newest = log["entries"][0];
  const json& before = log["entries"][1];
  EXPECT_EQ(newest["action"], "unblock");
  EXPECT_EQ(newest["operator"], admin_name);
  EXPECT_EQ(before["action"], "block");
  EXPECT_EQ(before["operator"], teacher_name);
  EXPECT_EQ(before["source"], "dashboard");
  EXPECT_EQ(before["stations"], json({"fake:mgr-audit"}));
  EXPECT_NE(before["detail"].get<std::string>().find("Pens down"), std::string::npos);
  EXPECT_GE(newest["at_ns"].get<std::int64_t>(), before["at_ns"].get<std::int64_t>());

  std::int64_t after_both = newest["at_ns"].get<std::int64_t>() + 1;
  json none = get("/api/manager/audit?since_ns=" + std::to_string(after_both), admin);
  EXPECT_EQ(none["entries"].size(), 0u) << none.dump();
}

TEST_F(DashboardManager, ManagerActionsAreInTheAuditLogToo) {
  ASSERT_TRUE(system.attach_stations({"mgr-rename"}));
  ASSERT_TRUE(eventually([&] { return !station("fake:mgr-rename").is_null(); }, 10s));
  auto renamed = system.call("POST", "/api/manager/stations/rename", admin,
                             {{"key", "fake:mgr-rename"}, {"name", "Window seat"}});
  ASSERT_TRUE(renamed);
  ASSERT_EQ(renamed->status, 200) << renamed->body;
  std::string fresh = "mgraudit" + std::to_string(getpid());
  made_here.push_back(fresh);
  auto added = system.call("POST", "/api/manager/users/add", admin,
                           {{"name", fresh}, {"role", "standard"}, {"password", kNewPassword}});
  ASSERT_TRUE(added);
  ASSERT_EQ(added->status, 200) << added->body;
  // A refused change is not audited.
  auto refused = system.call("POST", "/api/manager/users/modify", admin,
                             {{"name", fresh}, {"password", "short"}});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400);

  // Recorded after the action succeeded, asynchronously: wait for both.
  json log;
  ASSERT_TRUE(eventually(
      [&] {
        log = get("/api/manager/audit?limit=10", admin);
        return log.contains("entries") && log["entries"].size() >= 2 &&
               log["entries"][0]["action"] == "user add";
      },
      5s))
      << log.dump();
  const json& add = log["entries"][0];
  const json& rename = log["entries"][1];
  EXPECT_EQ(add["operator"], admin_name);
  EXPECT_EQ(add["source"], "dashboard");
  EXPECT_NE(add["detail"].get<std::string>().find(fresh), std::string::npos) << add.dump();
  EXPECT_EQ(rename["action"], "station rename");
  EXPECT_EQ(rename["stations"], json({"fake:mgr-rename"}));
  EXPECT_NE(rename["detail"].get<std::string>().find("Window seat"), std::string::npos);
}

TEST_F(DashboardManager, AdminSeesServicesAndRestartsOne) {
  auto policy_of = [&]() {
    json list = get("/api/manager/services", admin);
    if (!list.contains("services")) return json();
    for (const auto& s : list["services"]) {
      if (s["name"] == "policy") return s;
    }
    return json();
  };
  ASSERT_TRUE(eventually([&] { return policy_of()["state"] == "running"; }, 10s));
  json before = policy_of();
  auto restarted =
      system.call("POST", "/api/manager/services/restart", admin, {{"service", "policy"}});
  ASSERT_TRUE(restarted);
  ASSERT_EQ(restarted->status, 200) << restarted->body;
  EXPECT_TRUE(eventually(
      [&] {
        json now = policy_of();
        return now["state"] == "running" && now["pid"] != before["pid"];
      },
      15s))
      << policy_of().dump();

  auto unknown =
      system.call("POST", "/api/manager/services/restart", admin, {{"service", "nosuchservice"}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 400) << unknown->body;
}

}  // namespace
}  // namespace mp::test
