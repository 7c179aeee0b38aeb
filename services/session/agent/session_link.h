// The agent's end of its private channel to mp-session: a lib/bus ChannelClient connected to the
// ChannelServer mp-session binds for this session. Frames are one Envelope each, checked by
// lib/bus framing (limits, unaligned copy). ZeroMQ reconnects by itself when mp-session
// restarts; while it is away, send() refuses instead of queueing stale messages. ZeroMQ does
// not reconnect after a protocol error (e.g. a frame past ZMQ_MAXMSGSIZE), so a link that
// could not send for kRebuildAfter makes a fresh socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "mp/bus/channel.h"
#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"

namespace mp::agent {

inline constexpr std::chrono::milliseconds kRebuildAfter{2000};

// Fills the body of an envelope; the link fills the header.
using BodyBuilder = mp::bus::Build;

// sent, not_sent (mp-session not connected or its queue full), received, rejected (not one
// valid envelope), rebuilt (fresh sockets after the link could not send for a while).
using SessionLinkCounters = mp::bus::ChannelCounters;

class SessionLink {
 public:
  using MessageHandler = std::function<void(const mp::bus::Incoming&)>;

  // Connects (asynchronously) to `endpoint`; throws zmq::error_t for a malformed endpoint.
  SessionLink(mp::bus::Context& context, mp::bus::Reactor& reactor, const std::string& endpoint,
              MessageHandler on_message, mp::bus::Limits limits = {});

  // Sends one envelope now; false if mp-session is not connected.
  bool send(const BodyBuilder& body) { return channel_.send(body); }
  const SessionLinkCounters& counters() const { return channel_.counters(); }
  std::uint64_t incarnation() const { return channel_.incarnation(); }

 private:
  mp::bus::ChannelClient channel_;
};

}  // namespace mp::agent
