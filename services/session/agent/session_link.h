// The agent's end of its private channel to mp-session: a DEALER socket connected to the
// ROUTER mp-session binds for this session. Frames are one Envelope each, decoded through
// lib/bus framing (limits, unaligned copy). ZeroMQ reconnects by itself when mp-session
// restarts; while it is away, send() refuses instead of queueing stale messages. ZeroMQ does
// not reconnect after a protocol error (e.g. a frame past ZMQ_MAXMSGSIZE), so a link that
// could not send for kRebuildAfter makes a fresh socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"

namespace mp::agent {

inline constexpr std::chrono::milliseconds kRebuildAfter{2000};

// Fills the body of an envelope; the link fills the header.
using BodyBuilder = std::function<void(mp::schema::Envelope::Builder)>;

struct SessionLinkCounters {
  std::uint64_t sent = 0;
  std::uint64_t not_sent = 0;  // refused: mp-session not connected (or its queue full)
  std::uint64_t received = 0;
  std::uint64_t rejected = 0;  // frames that were not one valid envelope
  std::uint64_t rebuilt = 0;   // fresh sockets after the link could not send for a while
};

class SessionLink {
 public:
  using MessageHandler = std::function<void(const mp::bus::Incoming&)>;

  // Connects (asynchronously) to `endpoint`; throws zmq::error_t for a malformed endpoint.
  SessionLink(zmq::context_t& context, mp::bus::Reactor& reactor, const std::string& endpoint,
              MessageHandler on_message, mp::bus::Limits limits = {});
  ~SessionLink();
  SessionLink(const SessionLink&) = delete;
  SessionLink& operator=(const SessionLink&) = delete;

  // Sends one envelope now; false if mp-session is not connected.
  bool send(const BodyBuilder& body);
  const SessionLinkCounters& counters() const { return counters_; }
  std::uint64_t incarnation() const { return incarnation_; }

 private:
  void open_socket();
  void receive_waiting();

  zmq::context_t& context_;
  std::string endpoint_;
  mp::bus::Reactor& reactor_;
  mp::bus::Limits limits_;
  MessageHandler on_message_;
  zmq::socket_t socket_;
  std::uint64_t incarnation_;
  std::uint64_t sequence_ = 0;
  std::chrono::steady_clock::time_point last_sent_;
  SessionLinkCounters counters_;
};

}  // namespace mp::agent
