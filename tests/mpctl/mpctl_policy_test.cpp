// mpctl's policy verbs as a real process against real mp-bus, mp-session and mp-policy.
#include <gtest/gtest.h>
#include <pwd.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class MpctlPolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    auto start = [&](const std::string& program, bool with_state) {
      std::vector<std::string> args{"--runtime-dir", runtime().string()};
      if (with_state) {
        args.insert(args.end(), {"--state-dir", (dir_ / "state").string()});
      }
      processes_.push_back(std::make_unique<ChildProcess>(
          bin_dir() / program, args,
          ChildProcess::Options{.output_file = dir_ / (program + ".log")}));
    };
    start("mp-bus", false);
    start("mp-session", true);
    start("mp-policy", true);
    ASSERT_TRUE(eventually(
        [&] {
          return mpctl({"group", "list"}).exit_code == 0;
        },
        15s))
        << read_file(dir_ / "mp-policy.log");
  }

  void TearDown() override {
    if (HasFailure()) std::cerr << "--- mp-policy ---\n" << read_file(dir_ / "mp-policy.log");
    // Gracefully and in reverse, so nothing writes into a removed directory.
    while (!processes_.empty()) {
      processes_.back()->stop();
      processes_.pop_back();
    }
  }

  std::filesystem::path runtime() const { return dir_ / "run"; }

  RunResult mpctl(const std::vector<std::string>& args, ChildProcess::Options options = {}) {
    std::vector<std::string> all{"--runtime-dir", runtime().string()};
    all.insert(all.end(), args.begin(), args.end());
    return run(bin_dir() / "mpctl", all, std::move(options), 20s);
  }

  // Runs and expects exit 0; the output parsed as JSON when asked.
  json ok_json(const std::vector<std::string>& args) {
    RunResult result = mpctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    try {
      return json::parse(result.output);
    } catch (const json::exception& e) {
      ADD_FAILURE() << e.what() << "\n" << result.output;
      return nullptr;
    }
  }

  void ok(const std::vector<std::string>& args) {
    RunResult result = mpctl(args);
    EXPECT_EQ(result.exit_code, 0) << result.output;
  }

  std::map<std::string, json> effective() {
    std::map<std::string, json> out;
    json report = ok_json({"policy", "show", "--json"});
    if (!report.is_object()) return out;
    for (const auto& e : report["effective"]) out[e["station"]] = e;
    return out;
  }

  std::filesystem::path write(const std::string& name, const std::string& text) {
    auto path = dir_ / name;
    std::ofstream(path) << text;
    return path;
  }

  TempDir dir_{"mpctl-pol"};
  std::vector<std::unique_ptr<ChildProcess>> processes_;
};

TEST_F(MpctlPolicy, BlockAndUnblock) {
  ok({"group", "add", "lab", "rdp:a", "rdp:b"});
  RunResult blocked = mpctl({"block", "lab", "--message", "Eyes to the front"});
  ASSERT_EQ(blocked.exit_code, 0) << blocked.output;
  EXPECT_TRUE(contains(blocked.output, "blocked group lab")) << blocked.output;
  ok({"block", "rdp:c"});  // not a group: a station key
  auto e = effective();
  EXPECT_EQ(e["rdp:a"]["blocked"], true);
  EXPECT_EQ(e["rdp:a"]["block_message"], "Eyes to the front");
  EXPECT_EQ(e["rdp:a"]["block_source"], "group:lab");
  EXPECT_EQ(e["rdp:c"]["blocked"], true);
  EXPECT_EQ(e["rdp:c"]["block_source"], "station");
  EXPECT_EQ(e[""]["blocked"], false);

  ok({"unblock", "--all"});
  for (const auto& [key, entry] : effective()) {
    EXPECT_EQ(entry["blocked"], false) << key;
    EXPECT_EQ(entry["block_source"], "all") << key;
  }
  RunResult table = mpctl({"policy", "show"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_TRUE(contains(table.output, "STATION")) << table.output;
  EXPECT_TRUE(contains(table.output, "rdp:a")) << table.output;
}

TEST_F(MpctlPolicy, NewStationsTargetSetsItsOwnScopeAndShowListsIt) {
  RunResult blocked = mpctl({"block", "--new-stations", "-m", "Ask the teacher to admit you"});
  ASSERT_EQ(blocked.exit_code, 0) << blocked.output;
  EXPECT_TRUE(contains(blocked.output, "blocked new stations")) << blocked.output;
  ok({"web", "allow", "--new-stations", "school.example"});
  ok({"usb", "lock", "--new-stations"});
  ok({"schedule", "add", "--new-stations", "--days", "daily", "--from", "00:00", "--to", "24:00",
      "--block", "always"});
  json report = ok_json({"policy", "show", "--json"});
  ASSERT_TRUE(report.is_object());
  json scope;
  for (const auto& s : report["scopes"]) {
    if (s["scope"] == "new-stations") scope = s;
  }
  ASSERT_FALSE(scope.is_null()) << report.dump(2);
  EXPECT_EQ(scope["blocked"], true) << scope.dump();
  EXPECT_EQ(scope["block_message"], "Ask the teacher to admit you") << scope.dump();
  EXPECT_EQ(scope["web_mode"], "allowOnly") << scope.dump();
  EXPECT_EQ(scope["usb_locked"], true) << scope.dump();
  ASSERT_EQ(report["schedules"].size(), 1u);
  EXPECT_EQ(report["schedules"][0]["scope"], "new-stations") << report["schedules"].dump();
  RunResult table = mpctl({"policy", "show"});
  EXPECT_TRUE(contains(table.output, "new-stations")) << table.output;
  // Stations that are admitted, and nobody's entry "", are not under it.
  EXPECT_EQ(effective()[""]["blocked"], false);
  // unblock --all clears every scope's block, this one's too.
  ok({"unblock", "--all"});
  report = ok_json({"policy", "show", "--json"});
  for (const auto& s : report["scopes"]) {
    if (s["scope"] == "new-stations") {
      EXPECT_NE(s["blocked"], true) << s.dump();
    }
  }
}

TEST_F(MpctlPolicy, WebListsImportHostsFile) {
  auto hosts = write("hosts",
                     "# blocklist\n127.0.0.1 localhost\n0.0.0.0 Ads.Example.COM\n"
                     "0.0.0.0 tracker.example. # trailing dot\n");
  RunResult blocked =
      mpctl({"web", "block", "--all", "games.example", "--from-file", hosts.string()});
  ASSERT_EQ(blocked.exit_code, 0) << blocked.output;
  ok({"web", "allow", "rdp:kiosk", "wiki.example", "*.School.Example"});
  json web = ok_json({"web", "show", "--json"});
  std::map<std::string, json> by_station;
  for (const auto& e : web["effective"]) by_station[e["station"]] = e;
  EXPECT_EQ(by_station[""]["web_mode"], "blockOnly");
  EXPECT_EQ(by_station[""]["domains"],
            json({"ads.example.com", "games.example", "tracker.example"}));
  EXPECT_EQ(by_station["rdp:kiosk"]["web_mode"], "allowOnly");
  EXPECT_EQ(by_station["rdp:kiosk"]["domains"], json({"*.school.example", "wiki.example"}));

  ok({"web", "block", "--all", "--remove", "games.example"});
  EXPECT_EQ(effective()[""]["domains"], json({"ads.example.com", "tracker.example"}));
  ok({"web", "off", "--all"});
  EXPECT_EQ(effective()["rdp:kiosk"]["web_mode"], "off");
  RunResult text = mpctl({"web", "show"});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_TRUE(contains(text.output, "ads.example.com")) << text.output;

  RunResult bad = mpctl({"web", "block", "--all", "bad..example"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_TRUE(contains(bad.output, "invalid")) << bad.output;
  EXPECT_TRUE(contains(bad.output, "empty label")) << bad.output;
}

TEST_F(MpctlPolicy, UsbGroupsSchedulesAndAudit) {
  ok({"group", "add", "lab", "rdp:a", "rdp:b"});
  ok({"group", "remove", "lab", "rdp:b"});
  json groups = ok_json({"group", "list", "--json"});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0]["name"], "lab");
  EXPECT_EQ(groups[0]["stations"], json({"rdp:a"}));

  ok({"usb", "lock", "lab"});
  EXPECT_EQ(effective()["rdp:a"]["usb_locked"], true);
  ok({"usb", "unlock", "--all"});
  EXPECT_EQ(effective()["rdp:a"]["usb_locked"], false);

  auto list = write("list", "games.example\nvideo.example\n");
  RunResult added =
      mpctl({"schedule", "add", "--all", "--days", "mon-fri", "--from", "09:00", "--to", "12:00",
             "--web-block-file", list.string(), "--label", "morning"});
  ASSERT_EQ(added.exit_code, 0) << added.output;
  EXPECT_TRUE(contains(added.output, "09:00-12:00 mon-fri: web blockOnly (2 domains)"))
      << added.output;
  ok({"schedule", "add", "lab", "--days", "weekend", "--from", "8:00", "--to", "24:00", "--block",
      "Closed"});
  ok({"schedule", "add", "--all", "--days", "daily", "--from", "00:00", "--to", "06:00",
      "--usb-lock"});
  json schedules = ok_json({"schedule", "list", "--json"});
  ASSERT_EQ(schedules.size(), 3u);
  EXPECT_EQ(schedules[0]["action"]["web"]["domains"], json({"games.example", "video.example"}));
  EXPECT_EQ(schedules[1]["scope"], "group:lab");
  EXPECT_EQ(schedules[1]["action"]["block"], "Closed");
  EXPECT_EQ(schedules[2]["action"]["usb_lock"], true);
  ok({"schedule", "remove", std::to_string(schedules[2]["id"].get<std::uint64_t>())});
  EXPECT_EQ(ok_json({"schedule", "list", "--json"}).size(), 2u);
  RunResult gone = mpctl({"schedule", "remove", "999"});
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_TRUE(contains(gone.output, "no schedule 999")) << gone.output;

  ok({"group", "remove", "lab", "rdp:a"});
  RunResult in_use = mpctl({"group", "remove", "lab"});
  EXPECT_EQ(in_use.exit_code, 1);
  EXPECT_TRUE(contains(in_use.output, "has schedules")) << in_use.output;

  json audit = ok_json({"audit", "--json", "--limit", "20"});
  ASSERT_GE(audit.size(), 9u);
  std::string me = getpwuid(getuid())->pw_name;
  if (getuid() == 0 && getenv("SUDO_USER")) me = getenv("SUDO_USER");
  for (const auto& entry : audit) {
    EXPECT_EQ(entry["operator"], me);
    EXPECT_EQ(entry["source"], "mpctl");
  }
  EXPECT_EQ(audit[0]["action"], "group remove");
  EXPECT_EQ(audit[0]["stations"], json({"rdp:a"}));
  EXPECT_EQ(audit.back()["action"], "group add");
  EXPECT_EQ(ok_json({"audit", "--json", "--limit", "2"}).size(), 2u);
  RunResult table = mpctl({"audit"});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_TRUE(contains(table.output, "OPERATOR")) << table.output;
  EXPECT_TRUE(contains(table.output, "schedule add")) << table.output;
}

TEST_F(MpctlPolicy, AuditFiltersByTimeAndOperator) {
  ok({"block", "rdp:a", "--message", "first"});
  json first = ok_json({"audit", "--json"});
  ASSERT_EQ(first.size(), 1u);
  ok({"unblock", "rdp:a"});
  std::string me = getpwuid(getuid())->pw_name;
  if (getuid() == 0 && getenv("SUDO_USER")) me = getenv("SUDO_USER");
  // As root mpctl names $SUDO_USER as the operator: a second person's entry.
  const bool two_people = getuid() == 0;
  if (two_people) {
    ChildProcess::Options as_ann;
    as_ann.env["SUDO_USER"] = "ann";
    RunResult blocked = mpctl({"block", "rdp:b", "--message", "from ann"}, std::move(as_ann));
    ASSERT_EQ(blocked.exit_code, 0) << blocked.output;
  }
  json all = ok_json({"audit", "--json"});
  ASSERT_EQ(all.size(), two_people ? 3u : 2u);

  json mine = ok_json({"audit", "--json", "--operator", me});
  ASSERT_EQ(mine.size(), 2u);
  EXPECT_EQ(mine[0]["action"], "unblock");
  EXPECT_EQ(mine[1]["action"], "block");
  EXPECT_EQ(ok_json({"audit", "--json", "--operator", me, "--limit", "1"}).size(), 1u);
  EXPECT_EQ(ok_json({"audit", "--json", "--operator", "nobody-here"}).size(), 0u);
  if (two_people) {
    json anns = ok_json({"audit", "--json", "--operator", "ann"});
    ASSERT_EQ(anns.size(), 1u);
    EXPECT_EQ(anns[0]["stations"], json({"rdp:b"}));
    RunResult table = mpctl({"audit", "--operator", "ann"});
    EXPECT_TRUE(contains(table.output, "from ann")) << table.output;
    EXPECT_FALSE(contains(table.output, "first")) << table.output;
  }

  // Everything is from the last hour; nothing is from tomorrow on.
  EXPECT_EQ(ok_json({"audit", "--json", "--since", "1h"}).size(), all.size());
  std::time_t tomorrow = std::time(nullptr) + 86400;
  char date[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", std::localtime(&tomorrow));
  EXPECT_EQ(ok_json({"audit", "--json", "--since", date}).size(), 0u) << date;
  RunResult bad = mpctl({"audit", "--since", "yesterday"});
  EXPECT_EQ(bad.exit_code, 2) << bad.output;
  EXPECT_TRUE(contains(bad.output, "--since")) << bad.output;
}

TEST_F(MpctlPolicy, BadArgumentsExitTwo) {
  auto two_lines = write("bad-list", "fine.example\nnot a domain\n");
  for (std::vector<std::string> args : {
           std::vector<std::string>{"block"},
           {"block", "rdp:a", "--all"},
           {"block", "--all", "--new-stations"},
           {"block", "rdp:a", "--new-stations"},
           {"web", "block", "--all", "--new-stations", "a.example"},
           {"unblock"},
           {"web"},
           {"web", "allow"},
           {"web", "block", "rdp:a"},
           {"web", "block", "--all", "--from-file", (dir_ / "missing").string()},
           {"web", "block", "--all", "--from-file", two_lines.string()},
           {"web", "block", "--all", "a.example", "--remove", "--replace"},
           {"usb", "lock"},
           {"usb", "frobnicate", "--all"},
           {"schedule", "add", "--all", "--days", "mon-fri", "--from", "09:00", "--to", "12:00"},
           {"schedule", "add", "--all", "--days", "someday", "--from", "09:00", "--to", "12:00",
            "--usb-lock"},
           {"schedule", "add", "--all", "--days", "mon", "--from", "9am", "--to", "12:00",
            "--usb-lock"},
           {"schedule", "add", "--all", "--days", "mon", "--from", "12:00", "--to", "09:00",
            "--usb-lock"},
           {"schedule", "add", "--all", "--days", "mon", "--from", "09:00", "--to", "12:00",
            "--usb-lock", "--block", "x"},
           {"schedule", "add", "--all", "--from", "09:00", "--to", "12:00", "--usb-lock"},
           {"schedule", "remove"},
           {"schedule", "remove", "seven"},
           {"group", "add"},
           {"audit", "--limit", "0"},
           {"policy"},
       }) {
    RunResult result = mpctl(args);
    std::string joined;
    for (const auto& a : args) joined += a + " ";
    EXPECT_EQ(result.exit_code, 2) << joined << "\n" << result.output;
    EXPECT_FALSE(result.output.empty()) << joined;
  }
  // Nothing reached mp-policy.
  EXPECT_EQ(ok_json({"audit", "--json"}).size(), 0u);
}

TEST(MpctlPolicyUnreachable, ExitsThree) {
  TempDir dir("mpctl-pol");
  for (std::vector<std::string> command : {std::vector<std::string>{"block", "--all"},
                                           {"policy", "show"},
                                           {"web", "show"},
                                           {"audit"}}) {
    std::vector<std::string> args{"--runtime-dir", dir.path().string()};
    args.insert(args.end(), command.begin(), command.end());
    RunResult result = run(bin_dir() / "mpctl", args, {}, 20s);
    EXPECT_EQ(result.exit_code, 3) << command[0] << ": " << result.output;
  }
}

}  // namespace
}  // namespace mp::test
