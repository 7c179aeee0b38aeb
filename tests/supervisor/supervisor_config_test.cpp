#include "supervisor_config.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "supervisor.h"

namespace mp::supervisor {
namespace {

using namespace std::chrono_literals;

std::string error_of(const std::string& json) {
  try {
    parse_config(json);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(SupervisorConfig, ServiceListPutsBusFirstWithDefaultBinaries) {
  auto services = parse_service_list("session,rdp");
  finish_services(services, "/opt/mp/bin");
  ASSERT_EQ(services.size(), 3u);
  EXPECT_EQ(services[0].name, "bus");
  EXPECT_EQ(services[0].binary, "/opt/mp/bin/mp-bus");
  EXPECT_EQ(services[1].name, "session");
  EXPECT_EQ(services[2].binary, "/opt/mp/bin/mp-rdp");
}

TEST(SupervisorConfig, BusListedLateIsMovedFirst) {
  auto services = parse_service_list("session,bus,rdp");
  finish_services(services, "/bin");
  EXPECT_EQ(services[0].name, "bus");
  EXPECT_EQ(services[1].name, "session");
  EXPECT_EQ(services[2].name, "rdp");
}

TEST(SupervisorConfig, RejectsBadServiceLists) {
  EXPECT_THROW(parse_service_list("bus,,session"), ConfigError);
  EXPECT_THROW(parse_service_list(""), ConfigError);
  auto twice = parse_service_list("session,session");
  EXPECT_THROW(finish_services(twice, "/bin"), ConfigError);
  auto bad_name = parse_service_list("Session/../x");
  EXPECT_THROW(finish_services(bad_name, "/bin"), ConfigError);
  auto taken = parse_service_list("supervisor");
  EXPECT_THROW(finish_services(taken, "/bin"), ConfigError);
}

TEST(SupervisorConfig, AsRootTheDashboardWebFilterAndRdpGetTheirOwnUsers) {
  auto services = parse_service_list("session,webfilter,dashboard,rdp");
  finish_services(services, "/bin", true);
  EXPECT_FALSE(services[0].user) << "the bus stays root";
  EXPECT_FALSE(services[1].user) << "mp-session needs root (accounts, desktops as users)";
  EXPECT_EQ(services[2].user, "mp-webfilter");
  EXPECT_EQ(services[3].user, "mp-dashboard");
  EXPECT_EQ(command_line(services[3]),
            (std::vector<std::string>{"/bin/mp-dashboard", "--user", "mp-dashboard"}));
  EXPECT_EQ(services[4].user, "mp-rdp");
  EXPECT_EQ(command_line(services[4]),
            (std::vector<std::string>{"/bin/mp-rdp", "--user", "mp-rdp"}));
  // With the web filter there, no desktop starts unfiltered.
  EXPECT_EQ(command_line(services[1]),
            (std::vector<std::string>{"/bin/mp-session", "--web-filter", "required"}));

  auto as_user = parse_service_list("dashboard");
  finish_services(as_user, "/bin", false);
  EXPECT_FALSE(as_user[1].user) << "not root: nobody to become";
}

TEST(SupervisorConfig, SessionWaitsForTheWebFilterOnlyWhenOneRunsAndNothingElseIsAsked) {
  auto without = parse_service_list("session,rdp");
  finish_services(without, "/bin", true);
  EXPECT_EQ(command_line(without[1]), (std::vector<std::string>{"/bin/mp-session"}));
  auto config = parse_config(
      R"({"services": [{"name": "session", "args": ["--web-filter", "off"]}, {"name": "webfilter"}]})");
  finish_services(config.services, "/bin", true);
  EXPECT_EQ(command_line(config.services[1]),
            (std::vector<std::string>{"/bin/mp-session", "--web-filter", "off"}));
  auto not_root = parse_service_list("session,webfilter");
  finish_services(not_root, "/bin", false);
  EXPECT_EQ(command_line(not_root[1]), (std::vector<std::string>{"/bin/mp-session"}));
}

TEST(SupervisorConfig, AServiceEntryMayNameItsUserOrStayRoot) {
  SupervisorConfig config = parse_config(R"({"services": [
    {"name": "dashboard", "args": ["--listen", "127.0.0.1:9"], "user": "teacher-web"},
    {"name": "webfilter", "user": ""}]})");
  finish_services(config.services, "/bin", true);
  EXPECT_EQ(command_line(config.services[1]),
            (std::vector<std::string>{"/bin/mp-dashboard", "--listen", "127.0.0.1:9", "--user",
                                      "teacher-web"}));
  EXPECT_EQ(command_line(config.services[2]),
            (std::vector<std::string>{"/bin/mp-webfilter", "--user", ""}))
      << "\"\" keeps root, explicitly";

  EXPECT_NE(error_of(R"({"services": [{"name": "dashboard", "user": "Root"}]})").find("user"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"services": [{"name": "dashboard", "user": 0}]})").find("user"),
            std::string::npos);
  auto named = parse_config(R"({"services": [{"name": "dashboard", "user": "mp-dashboard"}]})");
  EXPECT_THROW(finish_services(named.services, "/bin", false), ConfigError)
      << "only a root supervisor can run a service as another user";
}

TEST(SupervisorConfig, ParsesServicesAndRestartLimits) {
  bool has_services = false;
  SupervisorConfig config = parse_config(R"({
    "services": [{"name": "bus"},
                 {"name": "session", "binary": "/usr/bin/mp-session", "args": ["--x", "1"]}],
    "restart": {"initial_backoff_ms": 50, "max_backoff_ms": 800, "healthy_after_ms": 1000,
                "max_restarts": 3, "window_ms": 10000},
    "stop_timeout_ms": 2000
  })",
                                         &has_services);
  EXPECT_TRUE(has_services);
  ASSERT_EQ(config.services.size(), 2u);
  EXPECT_EQ(config.services[1].binary, "/usr/bin/mp-session");
  EXPECT_EQ(config.services[1].args, (std::vector<std::string>{"--x", "1"}));
  EXPECT_EQ(config.restart.initial_backoff, 50ms);
  EXPECT_EQ(config.restart.max_backoff, 800ms);
  EXPECT_EQ(config.restart.healthy_after, 1000ms);
  EXPECT_EQ(config.restart.max_restarts, 3);
  EXPECT_EQ(config.restart.window, 10000ms);
  EXPECT_EQ(config.stop_timeout, 2000ms);
}

TEST(SupervisorConfig, EverythingIsOptional) {
  bool has_services = true;
  SupervisorConfig config = parse_config("{}", &has_services);
  EXPECT_FALSE(has_services);
  EXPECT_EQ(config.restart.initial_backoff, 100ms);
  EXPECT_EQ(config.stop_timeout, 5000ms);
}

TEST(SupervisorConfig, BadConfigsSayWhatIsWrong) {
  EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[]").find("object"), std::string::npos);
  EXPECT_NE(error_of(R"({"servces": []})").find("unknown key \"servces\""), std::string::npos);
  EXPECT_NE(error_of(R"({"services": []})").find("non-empty"), std::string::npos);
  EXPECT_NE(error_of(R"({"services": [{"binary": "/x"}]})").find("services[0]"), std::string::npos);
  EXPECT_NE(error_of(R"({"services": [{"name": "a", "args": "x"}]})").find("args"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"restart": {"max_restarts": -1}})").find("max_restarts"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"restart": {"window_ms": "60s"}})").find("window_ms"), std::string::npos);
  EXPECT_NE(error_of(R"({"restart": {"initial_backoff_ms": 9000}})").find("larger"),
            std::string::npos);
}

TEST(SupervisorConfig, ExitsAreDescribedForOperators) {
  EXPECT_EQ(describe_exit(W_EXITCODE(1, 0)), "exited 1");
  EXPECT_EQ(describe_exit(W_EXITCODE(0, 9)), "killed by signal 9");
}

}  // namespace
}  // namespace mp::supervisor
