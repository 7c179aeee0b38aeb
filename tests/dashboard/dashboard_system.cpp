#include "dashboard_system.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "mp/bus/endpoints.h"

namespace mp::test {

using namespace std::chrono_literals;
using mp::schema::Envelope;
using nlohmann::json;

DashboardSystem::DashboardSystem(const std::vector<json>& extra_services)
    : runtime_dir_(dir_.path() / "run"), port_(free_port()) {
  // As root mp-dashboard runs as its own system user: it must pass through here to the bus,
  // as it passes through /run in production.
  std::filesystem::permissions(dir_.path(), std::filesystem::perms(0711));
  std::filesystem::create_directories(dir_.path() / "state");
  json services = json::array({{{"name", "bus"}},
                               {{"name", "session"}},
                               {{"name", "policy"}},
                               {{"name", "fake-transport"}},
                               {{"name", "dashboard"},
                                {"args",
                                 {"--listen", "127.0.0.1:" + std::to_string(port_),
                                  "--event-keepalive-s", "1", "--log-level", "debug",
                                  // Waits that outlast any test: throttling does not depend
                                  // on how fast the machine is.
                                  "--failed-logon-delay-ms", "60000"}}}});
  for (const auto& service : extra_services) services.push_back(service);
  std::ofstream(dir_.path() / "supervisor.json") << json{{"services", services}}.dump(2);
  supervisor_ = std::make_unique<ChildProcess>(
      bin_dir() / "mp-supervisor",
      std::vector<std::string>{"--runtime-dir", runtime_dir_.string(), "--state-dir",
                               (dir_.path() / "state").string(), "--config",
                               (dir_.path() / "supervisor.json").string(), "--log-level", "info"},
      ChildProcess::Options{.output_file = dir_.path() / "system.log"});
  EXPECT_TRUE(eventually([&] { return std::filesystem::exists(runtime_dir_ / "requests"); }, 10s))
      << log();
  client_ = std::make_unique<mp::bus::Client>(context_, reactor_,
                                              mp::bus::Endpoints::in_directory(runtime_dir_),
                                              mp::bus::ClientOptions{.service = "dashtest"});
}

DashboardSystem::~DashboardSystem() {
  client_.reset();
  int code = supervisor_->stop(15s);
  EXPECT_EQ(code, 0) << "the supervisor did not stop cleanly\n" << log();
  for (const auto& name : accounts_) remove_linux_account(name);
}

std::string DashboardSystem::log() const { return read_file(dir_.path() / "system.log"); }

bool DashboardSystem::wait_ready(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto page = http()->Get("/login");
    if (page && page->status == 200) {
      auto reply = client_->call(
          "bus", [](Envelope::Builder e) { e.initBusStatusRequest(); },
          mp::bus::RequestOptions{.deadline = 1s});
      int serving = 0;
      if (reply.ok() && reply.envelope().isBusStatus()) {
        for (auto s : reply.envelope().getBusStatus().getServices()) {
          std::string name = s.getName();
          serving += name == "session" || name == "policy" || name == "fake-transport";
        }
      }
      if (serving == 3) return true;
    }
    reactor_.run_until([] { return false; }, 100ms);
  }
  return false;
}

std::string DashboardSystem::add_user(const std::string& base, const std::string& role,
                                      const std::string& password) {
  std::string name = base + std::to_string(getpid());
  accounts_.push_back(name);
  ChildProcess::Options options;
  options.stdin_text = password + "\n";
  RunResult result = run(bin_dir() / "mpctl",
                         {"--runtime-dir", runtime_dir_.string(), "--timeout", "10000", "user",
                          "add", name, "--role", role, "--password-stdin"},
                         options, 30s);
  EXPECT_EQ(result.exit_code, 0) << result.output;
  return name;
}

bool DashboardSystem::attach_stations(const std::vector<std::string>& names) {
  auto reply = client_->call(
      "fake-transport",
      [&](Envelope::Builder e) {
        auto attach = e.initSimulateStations().initAttach(static_cast<unsigned>(names.size()));
        for (unsigned i = 0; i < names.size(); ++i) {
          attach[i].setKey("fake:" + names[i]);
          attach[i].setClientName(names[i]);
          attach[i].setAddress("10.0.0." + std::to_string(i + 1));
        }
      },
      mp::bus::RequestOptions{.deadline = 5s});
  return reply.ok();
}

std::unique_ptr<httplib::Client> DashboardSystem::http() const {
  auto client = std::make_unique<httplib::Client>("127.0.0.1", port_);
  // Generous: twenty parallel logins on a loaded 2-core CI machine must not turn into client
  // timeouts (the server's answers are what the tests judge).
  client->set_connection_timeout(30, 0);
  client->set_read_timeout(30, 0);
  client->set_write_timeout(15, 0);
  return client;
}

DashboardLogin DashboardSystem::login(const std::string& user, const std::string& password) const {
  DashboardLogin out;
  auto result = http()->Post("/api/login", json{{"user", user}, {"password", password}}.dump(),
                             "application/json");
  if (!result) return out;
  out.status = result->status;
  out.body = json::parse(result->body, nullptr, false);
  out.set_cookie = result->get_header_value("Set-Cookie");
  out.cookie = out.set_cookie.substr(0, out.set_cookie.find(';'));
  if (out.body.is_object()) out.csrf_token = out.body.value("csrf_token", "");
  return out;
}

httplib::Result DashboardSystem::call(const std::string& method, const std::string& path,
                                      const DashboardLogin& login, const json& body,
                                      bool with_csrf) const {
  httplib::Headers headers{{"Cookie", login.cookie}};
  if (with_csrf) headers.emplace("X-CSRF-Token", login.csrf_token);
  auto client = http();
  if (method == "GET") return client->Get(path, headers);
  std::string text = body.is_null() ? std::string() : body.dump();
  return client->Post(path, headers, text, "application/json");
}

// EventStream --------------------------------------------------------------------------------

EventStream::EventStream(int port, const std::string& cookie) {
  thread_ = std::thread([this, port, cookie] {
    httplib::Client client("127.0.0.1", port);
    client.set_read_timeout(30, 0);
    client.Get("/api/events", httplib::Headers{{"Cookie", cookie}},
               [this](const char* data, std::size_t size) {
                 std::lock_guard lock(mutex_);
                 text_.append(data, size);
                 return !stop_.load();
               });
    ended_ = true;
  });
}

EventStream::~EventStream() {
  // The server sends a comment every second, so the receiver sees the stop flag soon.
  stop_ = true;
  thread_.join();
}

std::string EventStream::text() const {
  std::lock_guard lock(mutex_);
  return text_;
}

bool EventStream::wait_for(const std::function<bool(const std::vector<json>&)>& condition,
                           const std::string& event_name, std::chrono::milliseconds timeout) {
  return eventually([&] { return condition(server_events(text(), event_name)); }, timeout);
}

bool EventStream::wait_for_text(const std::string& needle, std::chrono::milliseconds timeout) {
  return eventually([&] { return text().find(needle) != std::string::npos; }, timeout);
}

std::vector<json> server_events(const std::string& text, const std::string& name) {
  std::vector<json> out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find("\n\n", start);
    if (end == std::string::npos) break;  // not complete yet
    std::string block = text.substr(start, end - start);
    start = end + 2;
    std::string event, data;
    std::size_t line_start = 0;
    while (line_start <= block.size()) {
      std::size_t line_end = block.find('\n', line_start);
      if (line_end == std::string::npos) line_end = block.size();
      std::string line = block.substr(line_start, line_end - line_start);
      if (line.rfind("event: ", 0) == 0) event = line.substr(7);
      if (line.rfind("data: ", 0) == 0) data = line.substr(6);
      line_start = line_end + 1;
    }
    if (event == name) out.push_back(json::parse(data, nullptr, false));
  }
  return out;
}

}  // namespace mp::test
