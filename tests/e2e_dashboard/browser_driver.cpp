#include "browser_driver.h"

#include <httplib.h>
#include <unistd.h>

namespace mp::test {

using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::filesystem::path script_dir() { return source_dir() / "tests" / "e2e_dashboard"; }

}  // namespace

std::string missing_browser_prerequisites() {
  if (access("/usr/bin/node", X_OK) != 0) return "no /usr/bin/node (Debian nodejs)";
  if (access("/usr/bin/chromium", X_OK) != 0) return "no /usr/bin/chromium (Debian chromium)";
  if (!std::filesystem::exists(script_dir() / "node_modules" / "playwright-core" /
                               "package.json")) {
    return "playwright-core is not installed: npm ci in tests/e2e_dashboard (./mp test does)";
  }
  return "";
}

BrowserDriver::BrowserDriver(const std::string& url, const std::filesystem::path& out_dir) {
  node_ = std::make_unique<ChildProcess>(
      "/usr/bin/node", std::vector<std::string>{(script_dir() / "browser.mjs").string()},
      ChildProcess::Options{.env = {{"MP_E2E_URL", url},
                                    {"MP_E2E_OUT", out_dir.string()},
                                    {"MP_E2E_PORT_FILE", (dir_.path() / "port").string()}},
                            .output_file = dir_.path() / "browser.log"});
}

BrowserDriver::~BrowserDriver() {
  if (port_ != 0 && node_->running()) step("quit");
  node_->stop(5s);
}

bool BrowserDriver::wait_ready(std::chrono::milliseconds timeout) {
  auto port_file = dir_.path() / "port";
  bool up = eventually([&] { return !node_->running() || !read_file(port_file).empty(); }, timeout);
  if (!up || !node_->running()) return false;
  port_ = std::stoi(read_file(port_file));
  return true;
}

json BrowserDriver::step(const std::string& name, const json& args) {
  if (port_ == 0) return {{"ok", false}, {"error", "the browser is not running"}};
  httplib::Client control("127.0.0.1", port_);
  control.set_read_timeout(60, 0);  // each step bounds its own waits, well below this
  auto reply =
      control.Post("/step", json{{"step", name}, {"args", args}}.dump(), "application/json");
  if (!reply) return {{"ok", false}, {"error", "no answer from browser.mjs"}};
  json answer = json::parse(reply->body, nullptr, false);
  if (!answer.is_object()) return {{"ok", false}, {"error", "bad answer: " + reply->body}};
  return answer;
}

std::string BrowserDriver::log() const { return read_file(dir_.path() / "browser.log"); }

}  // namespace mp::test
