// Integration: the real mp-dashboard in front of the real mp-bus, mp-session, mp-policy and the
// fake transport, spoken to over HTTP on loopback as a browser would.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dashboard_system.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* kTeacherPassword = "lesson plan 42";
constexpr const char* kStudentPassword = "homework 1234";

class DashboardProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(system.wait_ready()) << system.log();
    teacher = system.add_user("teacher", "dashboard", kTeacherPassword);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "--- system log ---\n" << system.log();
  }

  DashboardLogin teacher_login() {
    DashboardLogin login = system.login(teacher, kTeacherPassword);
    EXPECT_EQ(login.status, 200) << login.body.dump();
    return login;
  }

  // The station list as /api/stations gives it, by key; empty if the call failed.
  std::map<std::string, json> stations(const DashboardLogin& login) {
    std::map<std::string, json> out;
    auto result = system.call("GET", "/api/stations", login);
    if (!result || result->status != 200) return out;
    json body = json::parse(result->body, nullptr, false);
    if (!body.is_object()) return out;
    for (const auto& station : body["stations"]) out[station["key"]] = station;
    return out;
  }

  bool state_becomes(const DashboardLogin& login,
                     const std::map<std::string, std::string>& wanted) {
    return eventually(
        [&] {
          auto now = stations(login);
          for (const auto& [key, state] : wanted) {
            if (!now.count(key) || now[key]["state"] != state) return false;
          }
          return true;
        },
        10s);
  }

  DashboardSystem system;
  std::string teacher;
};

// The line `field:` of /proc/PID/status, without the field name and leading blanks.
std::string proc_status(std::uint32_t pid, const std::string& field) {
  std::string text = read_file("/proc/" + std::to_string(pid) + "/status");
  auto at = text.find("\n" + field + ":");
  if (at == std::string::npos) return "";
  auto start = text.find_first_not_of(" \t", at + field.size() + 2);
  return text.substr(start, text.find('\n', start) - start);
}

TEST_F(DashboardProcess, AsRootItRunsAsItsOwnSystemUserWithoutPrivileges) {
  if (geteuid() != 0) GTEST_SKIP() << "only root can change user";
  auto reply = system.client().call(
      "bus", [](mp::schema::Envelope::Builder e) { e.initBusStatusRequest(); },
      mp::bus::RequestOptions{.deadline = 5s});
  ASSERT_TRUE(reply.ok());
  std::uint32_t pid = 0;
  for (auto service : reply.envelope().getBusStatus().getServices()) {
    if (std::string(service.getName()) == "dashboard") pid = service.getPid();
  }
  ASSERT_NE(pid, 0u);
  passwd* account = getpwnam("mp-dashboard");
  ASSERT_NE(account, nullptr) << "the system user was made";
  std::string uid = std::to_string(account->pw_uid);
  EXPECT_EQ(proc_status(pid, "Uid"), uid + "\t" + uid + "\t" + uid + "\t" + uid);
  EXPECT_EQ(proc_status(pid, "CapEff"), "0000000000000000");
  EXPECT_EQ(proc_status(pid, "CapPrm"), "0000000000000000");
  EXPECT_EQ(proc_status(pid, "NoNewPrivs"), "1");
  // It still serves and reaches the bus: a login goes through mp-session.
  EXPECT_EQ(system.login(teacher, kTeacherPassword).status, 200);
  struct stat state {};
  ASSERT_EQ(stat((system.dir() / "state" / "dashboard").c_str(), &state), 0);
  EXPECT_EQ(state.st_uid, account->pw_uid) << "its state dir was given to it first";
  EXPECT_EQ(state.st_mode & 0777, 0700u);
}

TEST_F(DashboardProcess, NothingButTheLoginPageIsReachableWithoutLoggingIn) {
  auto http = system.http();
  for (const char* path : {"/api/stations", "/api/users", "/api/me", "/api/events"}) {
    auto result = http->Get(path);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 401) << path;
    EXPECT_EQ(json::parse(result->body, nullptr, false).value("error", ""), "log in first");
  }
  for (const char* path : {"/", "/assets/app.js", "/no/such/page"}) {
    auto result = http->Get(path);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 302) << path;
    EXPECT_EQ(result->get_header_value("Location"), "/login") << path;
  }
  auto page = http->Get("/login");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<form id=\"login-form\""), std::string::npos);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
  for (const char* asset : {"/assets/login.js", "/assets/style.css"}) {
    auto result = http->Get(asset);
    ASSERT_TRUE(result) << asset;
    EXPECT_EQ(result->status, 200) << asset;
  }
  // A mutating call without a session is refused before anything else is looked at.
  auto block = http->Post("/api/block", R"({"stations":"all"})", "application/json");
  ASSERT_TRUE(block);
  EXPECT_EQ(block->status, 401);
}

TEST_F(DashboardProcess, AWrongPasswordIsRefusedAndTheRightOneLogsIn) {
  DashboardLogin wrong = system.login(teacher, "not the password");
  EXPECT_EQ(wrong.status, 401) << wrong.body.dump();
  EXPECT_EQ(wrong.body.value("error", ""), "wrong user name or password");
  EXPECT_TRUE(wrong.set_cookie.empty());
  DashboardLogin unknown = system.login("nosuchuser", kTeacherPassword);
  EXPECT_EQ(unknown.status, 401) << "an unknown user reads like a wrong password";

  DashboardLogin login = teacher_login();
  EXPECT_EQ(login.body["user"], teacher);
  EXPECT_EQ(login.body["role"], "dashboard");
  EXPECT_EQ(login.csrf_token.size(), 64u);
  EXPECT_EQ(login.cookie.rfind("mp_session=", 0), 0u) << login.set_cookie;
  EXPECT_EQ(login.cookie.size(), std::string("mp_session=").size() + 64);
  for (const char* flag : {"HttpOnly", "SameSite=Strict", "Path=/"}) {
    EXPECT_NE(login.set_cookie.find(flag), std::string::npos) << login.set_cookie;
  }
  auto me = system.call("GET", "/api/me", login);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 200);
  EXPECT_EQ(json::parse(me->body)["csrf_token"], login.csrf_token);
  auto page = system.call("GET", "/", login);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("id=\"grid\""), std::string::npos);
  auto users = system.call("GET", "/api/users", login);
  ASSERT_TRUE(users);
  EXPECT_EQ(users->status, 200);
  EXPECT_NE(users->body.find(teacher), std::string::npos) << users->body;
}

TEST_F(DashboardProcess, AStudentAccountMayNotUseTheDashboard) {
  std::string student = system.add_user("student", "standard", kStudentPassword);
  DashboardLogin login = system.login(student, kStudentPassword);
  EXPECT_EQ(login.status, 403) << login.body.dump();
  EXPECT_NE(login.body.value("error", "").find("role standard"), std::string::npos);
  EXPECT_TRUE(login.set_cookie.empty());
  std::string admin = system.add_user("admin", "admin", kTeacherPassword);
  EXPECT_EQ(system.login(admin, kTeacherPassword).status, 200) << "role admin may";
}

TEST_F(DashboardProcess, MutatingCallsWithoutTheCsrfTokenAreRefused) {
  ASSERT_TRUE(system.attach_stations({"seat-1"}));
  DashboardLogin login = teacher_login();
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}}));
  json block{{"stations", {"fake:seat-1"}}, {"message", "stop"}};
  for (const char* path :
       {"/api/block", "/api/unblock", "/api/message", "/api/logoff", "/api/logout"}) {
    auto result = system.call("POST", path, login, block, /*with_csrf=*/false);
    ASSERT_TRUE(result) << path;
    EXPECT_EQ(result->status, 403) << path << ": " << result->body;
  }
  DashboardLogin forged = login;
  forged.csrf_token = std::string(64, '0');
  auto result = system.call("POST", "/api/block", forged, block);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 403);
  // Nothing was blocked, and the session is still good.
  EXPECT_EQ(stations(login)["fake:seat-1"]["state"], "free");
  // A request that says it comes from another site is refused even with the token.
  httplib::Headers headers{{"Cookie", login.cookie},
                           {"X-CSRF-Token", login.csrf_token},
                           {"Origin", "http://evil.example"}};
  auto cross = system.http()->Post("/api/block", headers, block.dump(), "application/json");
  ASSERT_TRUE(cross);
  EXPECT_EQ(cross->status, 403);
  EXPECT_EQ(stations(login)["fake:seat-1"]["state"], "free");
}

TEST_F(DashboardProcess, RepeatedWrongPasswordsAreDelayed) {
  // Three free failures (the system's first wait is 60 s, so this does not depend on speed).
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(system.login(teacher, "guess " + std::to_string(i)).status, 401) << i;
  }
  auto http = system.http();
  auto limited = http->Post("/api/login", json{{"user", teacher}, {"password", "guess 6"}}.dump(),
                            "application/json");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429) << limited->body;
  int retry_after = std::stoi(limited->get_header_value("Retry-After", 0).empty()
                                  ? "0"
                                  : limited->get_header_value("Retry-After"));
  EXPECT_GT(retry_after, 50);
  EXPECT_LE(retry_after, 60);
  EXPECT_NE(limited->body.find("try again in"), std::string::npos) << limited->body;
  // Even the right password waits: it is not checked inside the delay.
  EXPECT_EQ(system.login(teacher, kTeacherPassword).status, 429);
  // Another account from the same address is not delayed: the key is account and address.
  auto other = system.add_user("other", "dashboard", kTeacherPassword);
  EXPECT_EQ(system.login(other, kTeacherPassword).status, 200);
}

TEST_F(DashboardProcess, BlockShowsInTheStationListAndAsALiveEvent) {
  ASSERT_TRUE(system.attach_stations({"seat-1", "seat-2"}));
  DashboardLogin login = teacher_login();
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}, {"fake:seat-2", "free"}}));
  EventStream events(system.port(), login.cookie);
  ASSERT_TRUE(events.wait_for_text("event: hello", 10s)) << events.text();

  auto blocked = system.call("POST", "/api/block", login,
                             json{{"stations", {"fake:seat-1"}}, {"message", "Eyes on me"}});
  ASSERT_TRUE(blocked);
  ASSERT_EQ(blocked->status, 200) << blocked->body;
  EXPECT_EQ(json::parse(blocked->body)["results"][0]["ok"], true) << blocked->body;
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "blocked"}, {"fake:seat-2", "free"}}));
  EXPECT_EQ(stations(login)["fake:seat-1"]["block_message"], "Eyes on me");
  auto is_blocked = [](const std::vector<json>& list) {
    for (const auto& e : list) {
      if (e.value("key", "") == "fake:seat-1" && e.value("state", "") == "blocked" &&
          e.value("block_message", "") == "Eyes on me")
        return true;
    }
    return false;
  };
  EXPECT_TRUE(events.wait_for(is_blocked, "station", 10s)) << events.text();

  auto unblocked = system.call("POST", "/api/unblock", login, json{{"stations", {"fake:seat-1"}}});
  ASSERT_TRUE(unblocked);
  ASSERT_EQ(unblocked->status, 200) << unblocked->body;
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}, {"fake:seat-2", "free"}}));
  EXPECT_TRUE(events.wait_for(
      [](const std::vector<json>& list) {
        return !list.empty() && list.back().value("key", "") == "fake:seat-1" &&
               list.back().value("state", "") == "free";
      },
      "station", 10s))
      << events.text();

  // Everyone at once, then everyone free again.
  auto all =
      system.call("POST", "/api/block", login, json{{"stations", "all"}, {"message", "Break"}});
  ASSERT_TRUE(all);
  ASSERT_EQ(all->status, 200) << all->body;
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "blocked"}, {"fake:seat-2", "blocked"}}));
  auto none = system.call("POST", "/api/unblock", login, json{{"stations", "all"}});
  ASSERT_TRUE(none);
  ASSERT_EQ(none->status, 200) << none->body;
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}, {"fake:seat-2", "free"}}));
  EXPECT_TRUE(events.wait_for_text(": keep-alive", 5s)) << "an idle stream gets comments";
}

TEST_F(DashboardProcess, OversizedAndMalformedBodiesAreRefused) {
  ASSERT_TRUE(system.attach_stations({"seat-1"}));
  DashboardLogin login = teacher_login();
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}}));
  std::string huge =
      json{{"stations", {"fake:seat-1"}}, {"message", std::string(200000, 'x')}}.dump();
  httplib::Headers headers{{"Cookie", login.cookie}, {"X-CSRF-Token", login.csrf_token}};
  auto too_big = system.http()->Post("/api/block", headers, huge, "application/json");
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413) << too_big->body;

  struct Case {
    std::string body;
    const char* why;
  };
  for (const Case& c : std::vector<Case>{
           {std::string(64, '[') + std::string(64, ']'), "nested deeper"},
           {R"({"stations": ["fake:seat-1"], "message": "x", "extra": 1})", "unknown field"},
           {R"({"stations": ["no spaces allowed"]})", "station key"},
           {R"({"stations": ["fake:seat-1"], "message": ")" + std::string(501, 'x') + "\"}",
            "longer than 500"},
           {"not json", "not valid JSON"},
       }) {
    auto result = system.http()->Post("/api/block", headers, c.body, "application/json");
    ASSERT_TRUE(result) << c.why;
    EXPECT_EQ(result->status, 400) << c.why << ": " << result->body;
    EXPECT_NE(result->body.find(c.why), std::string::npos) << result->body;
  }
  auto wrong_type = system.http()->Post("/api/block", headers, "stations=all", "text/plain");
  ASSERT_TRUE(wrong_type);
  EXPECT_EQ(wrong_type->status, 415);
  EXPECT_EQ(stations(login)["fake:seat-1"]["state"], "free") << "nothing was blocked";
}

TEST_F(DashboardProcess, LogoutEndsTheSessionAndItsEventStream) {
  DashboardLogin login = teacher_login();
  auto events = std::make_unique<EventStream>(system.port(), login.cookie);
  ASSERT_TRUE(events->wait_for_text("event: hello", 10s)) << events->text();
  auto out = system.call("POST", "/api/logout", login);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->status, 200);
  EXPECT_NE(out->get_header_value("Set-Cookie").find("Max-Age=0"), std::string::npos);
  EXPECT_TRUE(eventually([&] { return events->ended(); }, 5s)) << events->text();
  auto me = system.call("GET", "/api/me", login);
  ASSERT_TRUE(me);
  EXPECT_EQ(me->status, 401);
}

TEST_F(DashboardProcess, AMessageReportsWhichStationsHadNoSessionToShowIt) {
  ASSERT_TRUE(system.attach_stations({"seat-1"}));
  DashboardLogin login = teacher_login();
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}}));
  auto sent = system.call("POST", "/api/message", login,
                          json{{"stations", {"fake:seat-1"}}, {"text", "Hello class"}});
  ASSERT_TRUE(sent);
  ASSERT_EQ(sent->status, 200) << sent->body;
  json result = json::parse(sent->body)["results"][0];
  EXPECT_EQ(result["station"], "fake:seat-1");
  EXPECT_EQ(result["ok"], false);
  EXPECT_EQ(result["error"], "no active session");
  auto empty =
      system.call("POST", "/api/message", login, json{{"stations", {"fake:seat-1"}}, {"text", ""}});
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 400);
}

TEST_F(DashboardProcess, WebLimitsAndUsbLockReachThePolicyAndShowOnTheStation) {
  ASSERT_TRUE(system.attach_stations({"seat-1", "seat-2"}));
  DashboardLogin login = teacher_login();
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}, {"fake:seat-2", "free"}}));
  auto field_becomes = [&](const std::string& key, const std::string& field, const json& value) {
    return eventually([&] { return stations(login)[key][field] == value; }, 10s);
  };
  EXPECT_EQ(stations(login)["fake:seat-1"]["web_mode"], "off");

  auto allow = system.call("POST", "/api/web", login,
                           json{{"stations", {"fake:seat-1"}},
                                {"mode", "allow_only"},
                                {"domains", {"Wikipedia.ORG.", "*.school.example"}}});
  ASSERT_TRUE(allow);
  ASSERT_EQ(allow->status, 200) << allow->body;
  EXPECT_TRUE(field_becomes("fake:seat-1", "web_mode", "allow_only"));
  EXPECT_EQ(stations(login)["fake:seat-2"]["web_mode"], "off") << "only the selected station";

  auto usb = system.call("POST", "/api/usb", login, json{{"stations", "all"}, {"locked", true}});
  ASSERT_TRUE(usb);
  ASSERT_EQ(usb->status, 200) << usb->body;
  EXPECT_TRUE(field_becomes("fake:seat-1", "usb_locked", true));
  EXPECT_TRUE(field_becomes("fake:seat-2", "usb_locked", true));

  auto off = system.call("POST", "/api/web", login, json{{"stations", "all"}, {"mode", "off"}});
  ASSERT_TRUE(off);
  ASSERT_EQ(off->status, 200) << off->body;
  EXPECT_TRUE(field_becomes("fake:seat-1", "web_mode", "off"));

  struct Case {
    std::string path;
    json body;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"/api/web", {{"stations", "all"}, {"mode", "sometimes"}}, "mode"},
           {"/api/web", {{"stations", "all"}, {"mode", "allow_only"}}, "domains"},
           {"/api/web", {{"stations", "all"}, {"mode", "off"}, {"domains", {"a.example"}}}, "only"},
           {"/api/web",
            {{"stations", "all"}, {"mode", "block_only"}, {"domains", {"bad domain!"}}},
            ""},
           {"/api/web", {{"stations", "all"}, {"mode", "block_only"}, {"domains", {1}}}, "domain"},
           {"/api/usb", {{"stations", "all"}, {"locked", "yes"}}, "locked"},
           {"/api/usb", {{"stations", json::array()}, {"locked", true}}, "stations"},
       }) {
    auto result = system.call("POST", c.path, login, c.body);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 400) << c.body.dump() << ": " << result->body;
    EXPECT_NE(result->body.find(c.says), std::string::npos) << result->body;
  }
  for (const char* path : {"/api/web", "/api/usb"}) {
    auto refused = system.call("POST", path, login, json{{"stations", "all"}, {"locked", false}},
                               /*with_csrf=*/false);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403) << path;
  }
}

TEST_F(DashboardProcess, ScreenRoutesCheckEverythingAndNeedLoginAndToken) {
  ASSERT_TRUE(system.attach_stations({"seat-1"}));
  DashboardLogin login = teacher_login();
  ASSERT_TRUE(state_becomes(login, {{"fake:seat-1", "free"}}));
  const std::string station = "/api/stations/fake:seat-1";
  json move{{"events", {{{"type", "move"}, {"x", 0.5}, {"y", 0.5}}}}};

  // Nothing without a login; nothing mutating without the token.
  auto anonymous = system.http()->Get(station + "/thumbnail.jpg");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);
  for (const std::string& path : {station + "/input", station + "/live"}) {
    auto refused = system.call("POST", path, login, move, /*with_csrf=*/false);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 403) << path;
  }

  // No picture of a station without a session; a clear 404, and 400 for a bad stream.
  auto none = system.call("GET", station + "/thumbnail.jpg", login);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_NE(none->body.find("no picture"), std::string::npos) << none->body;
  auto stream = system.call("GET", station + "/thumbnail.jpg?stream=7", login);
  ASSERT_TRUE(stream);
  EXPECT_EQ(stream->status, 400);

  // Input is checked event by event before anything reaches the bus.
  struct Case {
    json body;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {json{{"events", json::array()}}, "events"},
           {json{{"events", json::array({json{{"type", "move"}, {"x", 2}, {"y", 0}}})}}, "'x'"},
           {json{{"events", json::array({json{{"type", "fly"}}})}}, "type"},
           {json{
                {"events", json::array({json{{"type", "button"}, {"button", 9}, {"down", true}}})}},
            "button"},
           {json{{"events", json::array({json{{"type", "key"}, {"keysym", 65}}})}}, "down"},
           {json{
                {"events", json::array({json{{"type", "key"}, {"keysym", 65.5}, {"down", true}}})}},
            "whole"},
           {json{{"events", json::array({json{{"type", "move"}, {"x", 0}, {"y", 0}, {"z", 1}}})}},
            "unknown field"},
           {json{{"events", json(70, json{{"type", "move"}, {"x", 0}, {"y", 0}})}}, "64"},
           {json{{"mouse", 1}}, ""},
       }) {
    auto result = system.call("POST", station + "/input", login, c.body);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->status, 400) << c.body.dump() << ": " << result->body;
    EXPECT_NE(result->body.find(c.says), std::string::npos) << result->body;
  }
  // Good input for a station without a session: mp-session's reason, not a success.
  auto no_session = system.call("POST", station + "/input", login, move);
  ASSERT_TRUE(no_session);
  EXPECT_NE(no_session->status, 200);
  EXPECT_NE(no_session->body.find("no session"), std::string::npos) << no_session->body;

  // A live view needs a session; an unknown station is not found.
  auto live = system.call("POST", station + "/live", login, json{{"on", true}});
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 409) << live->body;
  auto unknown = system.call("POST", "/api/stations/fake:nowhere/live", login, json{{"on", true}});
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404) << unknown->body;
  auto bad = system.call("POST", station + "/live", login, json{{"on", "yes"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

}  // namespace
}  // namespace mp::test
