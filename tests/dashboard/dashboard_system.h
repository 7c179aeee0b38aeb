// The real system behind the dashboard for tests: mp-supervisor running mp-bus, mp-session,
// mp-policy, the fake transport and mp-dashboard (on a free loopback port) on private dirs, a
// bus client for the test, accounts made with mpctl, and HTTP through httplib's client.
#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "mp/bus/client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {

// A login as the browser holds it: the cookie to send and the CSRF token.
struct DashboardLogin {
  int status = 0;
  std::string cookie;  // "mp_session=..."
  std::string set_cookie;
  std::string csrf_token;
  nlohmann::json body;
};

class DashboardSystem {
 public:
  // `extra_services`: more supervisor service entries, started after the dashboard.
  explicit DashboardSystem(const std::vector<nlohmann::json>& extra_services = {});
  ~DashboardSystem();

  int port() const { return port_; }
  const std::filesystem::path& runtime_dir() const { return runtime_dir_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  mp::bus::Client& client() { return *client_; }
  std::string log() const;
  // Until the dashboard answers HTTP and mp-session, mp-policy and the fake transport serve.
  bool wait_ready(std::chrono::milliseconds timeout = std::chrono::seconds(20));

  // A multipoint account (a Linux account too, as root), removed with the system. Returns its
  // name, unique to this test process.
  std::string add_user(const std::string& base, const std::string& role,
                       const std::string& password);
  // Simulated stations "fake:NAME" from the fake transport.
  bool attach_stations(const std::vector<std::string>& names);

  std::unique_ptr<httplib::Client> http() const;
  DashboardLogin login(const std::string& user, const std::string& password) const;
  // A JSON call as the page makes it; `with_csrf` false leaves the X-CSRF-Token header out.
  httplib::Result call(const std::string& method, const std::string& path,
                       const DashboardLogin& login, const nlohmann::json& body = nullptr,
                       bool with_csrf = true) const;

 private:
  TempDir dir_{"mpd"};
  std::filesystem::path runtime_dir_;
  int port_;
  std::unique_ptr<ChildProcess> supervisor_;
  zmq::context_t context_;
  mp::bus::Reactor reactor_;
  std::unique_ptr<mp::bus::Client> client_;
  std::vector<std::string> accounts_;
};

// /api/events read on a thread of its own, kept as text.
class EventStream {
 public:
  EventStream(int port, const std::string& cookie);
  ~EventStream();
  // Waits until `condition` holds for the events received so far.
  bool wait_for(const std::function<bool(const std::vector<nlohmann::json>&)>& condition,
                const std::string& event_name, std::chrono::milliseconds timeout);
  bool wait_for_text(const std::string& needle, std::chrono::milliseconds timeout);
  bool ended() const { return ended_; }
  std::string text() const;

 private:
  mutable std::mutex mutex_;
  std::string text_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> ended_{false};
  std::thread thread_;
};

// The data of every `event: NAME` in an SSE text, parsed.
std::vector<nlohmann::json> server_events(const std::string& text, const std::string& name);

}  // namespace mp::test
