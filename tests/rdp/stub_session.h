// A stand-in for mp-session on a real bus, on its own thread: answers the transport contract
// (stationAttach, credentials, stationDetach, transportSync) and records what it was asked.
// One user and password are accepted and get the test's session display; anything else is
// refused like mp-session refuses it (logonResult ok=false).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace mp::test {

struct StubSessionConfig {
  std::filesystem::path runtime_dir;
  std::string user;
  std::string password;
  std::string display;  // what a good logon gets
  std::string xauthority;
  int width = 0;
  int height = 0;
};

struct StubEvent {
  std::string kind;  // "attach", "credentials", "detach", "sync"
  std::string key;   // station key (sync: comma-separated keys)
  std::string address;
  std::string client_name;
  std::string user;
  int width = 0, height = 0;
  bool accepted = false;  // credentials: the answer given
};

class StubSession {
 public:
  explicit StubSession(StubSessionConfig config);
  ~StubSession();
  StubSession(const StubSession&) = delete;
  StubSession& operator=(const StubSession&) = delete;

  bool wait_registered(std::chrono::milliseconds timeout);
  std::vector<StubEvent> events();
  // Waits until some recorded event satisfies `match`; returns it.
  std::optional<StubEvent> wait_for(const std::function<bool(const StubEvent&)>& match,
                                    std::chrono::milliseconds timeout);

 private:
  void run();
  void record(StubEvent event);

  StubSessionConfig config_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> registered_{false};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<StubEvent> events_;
  std::thread thread_;
};

}  // namespace mp::test
