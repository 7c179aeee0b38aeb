// The browser side of the dashboard tests: tests/e2e_dashboard/browser.mjs (playwright-core
// driving Debian's Chromium, headless) run by node, asked to do one step at a time over a
// loopback HTTP port, so the test can check the stations' screens between steps while the
// page stays open.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {

// Why the browser cannot run here (no node, no chromium, playwright-core not installed), or
// empty.
std::string missing_browser_prerequisites();

class BrowserDriver {
 public:
  // Starts node with browser.mjs for the dashboard at `url`; screenshots go to `out_dir`.
  BrowserDriver(const std::string& url, const std::filesystem::path& out_dir);
  ~BrowserDriver();  // closes the browser

  // Until the browser is up and the script listens.
  bool wait_ready(std::chrono::milliseconds timeout);
  // Runs one step of browser.mjs; the answer has "ok" and either the step's fields or "error".
  nlohmann::json step(const std::string& name,
                      const nlohmann::json& args = nlohmann::json::object());
  std::string log() const;

 private:
  TempDir dir_{"mpe2b"};
  int port_ = 0;
  std::unique_ptr<ChildProcess> node_;
};

}  // namespace mp::test
