// The test's stand-in for mp-session on the agent channel: a real ROUTER socket bound where
// mp-session would bind it, on its own thread. Like mp-session it answers every heartbeat that
// names another state than its own with that state, and it records what the agent sends.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "envelope.capnp.h"

namespace mp::test {

struct SeenHeartbeat {
  std::uint64_t session_id = 0;
  std::int32_t pid = 0;
  std::string display;
  std::uint64_t state_incarnation = 0;
  std::uint64_t state_version = 0;
  bool lock_shown = false;
  std::chrono::steady_clock::time_point at;
};

struct SeenReply {
  std::uint64_t message_id = 0;
  std::string text;
};

struct SeenThumbnail {
  std::uint8_t stream = 0;
  std::string jpeg;
  int width = 0;
  int height = 0;
  std::chrono::steady_clock::time_point at;
};

struct DesiredState {
  bool locked = false;
  std::string lock_message;
  std::string privacy_notice;
};

class FakeSession {
 public:
  explicit FakeSession(std::string endpoint, DesiredState initial = {});
  ~FakeSession();  // closes the ROUTER: to the agent, mp-session is gone
  FakeSession(const FakeSession&) = delete;
  FakeSession& operator=(const FakeSession&) = delete;

  std::uint64_t incarnation() const { return incarnation_; }
  // A new version of the state, sent at once to the agent last heard from.
  void set_state(DesiredState state);
  void show_message(std::uint64_t id, const std::string& from, const std::string& text);
  // Any body, to the agent last heard from.
  void send_body(std::function<void(mp::schema::Envelope::Builder)> body);
  void request_thumbnails(std::uint8_t stream, std::uint32_t interval_ms, std::uint16_t width,
                          std::uint32_t max_bytes, std::uint32_t lease_ms);
  // Raw frames (one message) to the agent last heard from: the ROUTER adds the route.
  void send_raw(std::vector<std::string> frames);
  // When the last state was sent (to time how fast the agent shows it).
  std::chrono::steady_clock::time_point last_state_sent() const;

  std::vector<SeenHeartbeat> heartbeats() const;
  std::vector<SeenHeartbeat> heartbeats_from(std::int32_t pid) const;
  std::optional<SeenHeartbeat> last_heartbeat() const;
  std::vector<SeenReply> replies() const;
  std::vector<SeenThumbnail> thumbnails() const;
  int notice_acknowledgements() const;
  int undecodable() const;

 private:
  void serve(zmq::socket_t& socket);
  // Records what the agent sent; answers a heartbeat naming another state with the state.
  void handle(zmq::socket_t& socket, const std::string& route, zmq::message_t&& frame);
  void send_state(zmq::socket_t& socket, const std::string& route);
  void run_commands(zmq::socket_t& socket);

  std::string endpoint_;
  std::uint64_t incarnation_;
  zmq::context_t context_{1};
  std::atomic<bool> stop_{false};
  std::thread thread_;

  mutable std::mutex mutex_;
  DesiredState state_;
  std::uint64_t version_ = 1;
  std::string last_route_;
  std::vector<std::function<void(zmq::socket_t&)>> commands_;
  std::chrono::steady_clock::time_point last_state_sent_;
  std::vector<SeenHeartbeat> heartbeats_;
  std::vector<SeenReply> replies_;
  std::vector<SeenThumbnail> thumbnails_;
  int notice_acknowledgements_ = 0;
  int undecodable_ = 0;
};

}  // namespace mp::test
