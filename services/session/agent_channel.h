// The channel between mp-session and the mp-agent of one session (schemas/agent.capnp): a
// lib/bus ChannelServer bound at ipc://<session dir>/agent, the socket file owned by the
// session's user and mode 0600, so only that user's agent (and root) can connect. Not the shared
// bus: a student's programs never reach it.
//
// The agent heartbeats every 250 ms; the channel answers any heartbeat that reports another
// state than the one it holds with that state (AgentState), so a restarted agent or a restarted
// mp-session converge without a handshake. `up` = a heartbeat within the last second.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "mp/bus/channel.h"
#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"
#include "screen_requests.h"
#include "token_bucket.h"

namespace mp::session {

struct AgentStateWanted {
  bool locked = false;
  std::string lock_message;
  std::string privacy_notice;
  bool operator==(const AgentStateWanted&) const = default;
};

class AgentChannel {
 public:
  struct Events {
    std::function<void(bool up)> up_changed;
    std::function<void(std::uint64_t message_id, const std::string& text)> reply;
    std::function<void()> notice_acknowledged;
    // An image of the session's screen, checked (size, dimensions, JPEG start).
    std::function<void(mp::schema::AgentThumbnail::Reader)> thumbnail;
  };
  struct Options {
    std::chrono::milliseconds dead_after{1000};
    std::chrono::milliseconds check_every{100};
    mp::bus::Limits limits;
    // The PeerGate domain that decides which process may connect (mp-session: only the agent
    // it started); empty: no gate.
    std::string gate_domain;
    // What the agent may send: messages and bytes per second (with bursts of twice that), and
    // replies to messages per second. Beyond it messages are dropped and counted.
    double messages_per_second = 100;
    double bytes_per_second = 4 * 1024 * 1024;
    double replies_per_second = 2;
  };

  // Binds (unlinking a stale socket file first: after a restart the old one is dead) and hands
  // the socket file to `owner` when set. Throws std::runtime_error if it cannot bind.
  AgentChannel(mp::bus::Context& context, mp::bus::Reactor& reactor,
               const std::filesystem::path& socket_file, std::optional<uid_t> owner,
               std::uint64_t session_id, std::uint64_t state_incarnation, Events events,
               Options options);
  ~AgentChannel();
  AgentChannel(const AgentChannel&) = delete;
  AgentChannel& operator=(const AgentChannel&) = delete;

  // Replaces the desired state; pushed to the agent at once when it differs.
  void set_state(const AgentStateWanted& state);
  const AgentStateWanted& state() const { return state_; }
  std::uint64_t state_version() const { return state_version_; }

  // Sends a message window; false (with `reason`) when no agent is connected.
  bool show_message(std::uint64_t message_id, const std::string& from, const std::string& text,
                    std::string* reason);

  // Passes a thumbnail stream request or an operator's input to the agent; false (with
  // `reason`) when no agent is connected.
  bool request_thumbnails(const ThumbnailRequest& request, std::string* reason);
  bool send_input(capnp::List<mp::schema::InputEvent>::Reader events, std::string* reason);

  bool up() const { return up_; }
  std::chrono::steady_clock::time_point last_heartbeat() const { return last_heartbeat_; }
  // What the agent last reported.
  pid_t agent_pid() const { return agent_pid_; }
  bool lock_shown() const { return lock_shown_; }
  std::uint64_t heartbeats() const { return heartbeats_; }
  std::uint64_t thumbnails_dropped() const { return thumbnails_dropped_; }
  // Messages dropped because the agent sent more than its budget.
  std::uint64_t over_budget() const { return over_budget_; }
  // Marks the agent as up without a heartbeat yet: after a restart of mp-session the record
  // still says up, and the reconnecting agent gets `dead_after` to prove it.
  void assume_up();

 private:
  void handle(const mp::bus::ChannelServer::Peer& route, const mp::bus::Incoming& message);
  void send_state(const mp::bus::ChannelServer::Peer& route);
  void check_liveness();
  void set_up(bool up);
  bool connected(std::string* reason) const;
  void take_thumbnail(mp::schema::AgentThumbnail::Reader thumbnail);
  bool within_budget(const mp::bus::Incoming& message);
  void note_over_budget(const char* what);

  mp::bus::Reactor& reactor_;
  std::uint64_t session_id_;
  std::uint64_t incarnation_;
  Events events_;
  Options options_;
  mp::bus::Reactor::TimerId timer_ = 0;

  AgentStateWanted state_;
  std::uint64_t state_version_ = 1;
  mp::bus::ChannelServer::Peer route_;  // the agent last heard from
  std::chrono::steady_clock::time_point last_heartbeat_{};
  bool up_ = false;
  pid_t agent_pid_ = 0;
  bool lock_shown_ = false;
  std::uint64_t heartbeats_ = 0;
  std::uint64_t thumbnails_dropped_ = 0;
  std::uint64_t over_budget_ = 0;
  TokenBucket messages_;
  TokenBucket bytes_;
  TokenBucket replies_;
  // Thumbnails are taken only for a stream someone asked for, and not more often than it asked.
  struct Lease {
    std::chrono::steady_clock::time_point until{};
    std::chrono::milliseconds min_gap{0};
    std::chrono::steady_clock::time_point last{};
  };
  std::map<std::uint8_t, Lease> leases_;
  mp::bus::ChannelServer server_;  // last: its handler uses the members above
};

}  // namespace mp::session
