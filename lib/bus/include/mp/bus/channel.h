// A private point-to-point channel, beside the shared bus: one ChannelServer (ROUTER, bound)
// and the ChannelClients (DEALER) that connect to it, e.g. mp-session and the mp-agent of one
// session. Every message is one frame holding one Envelope, checked against Limits like a bus
// frame; anything else (garbage, several frames, past the size limit) is dropped and counted.
// The channel fills the header (source, incarnation, sequence, send time) of what it sends.
// Everything runs on the Reactor's thread; no method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "mp/bus/client.h"
#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"

namespace mp::bus {

// The ZeroMQ context every socket of a process is made from; named here so that code outside
// lib/bus passes it along without including ZeroMQ.
using Context = zmq::context_t;

struct ChannelOptions {
  std::string name = "channel";   // in log lines, e.g. "session 7 agent channel"
  std::string source;             // header.source of everything sent
  std::uint64_t incarnation = 0;  // header.incarnation of everything sent; 0: a random one
  Limits limits;
  // Client only: a client that could not send for this long makes a fresh socket, because
  // ZeroMQ never reconnects a DEALER whose peer broke the protocol (libzmq 4.3.4 drops the
  // connection for good after a frame past ZMQ_MAXMSGSIZE).
  std::chrono::milliseconds rebuild_after{2000};
  // Server only: when set, each connecting process is first put to the context's PeerGate
  // (peer_gate.h) under this domain; a refused one never gets a message through.
  std::string gate_domain;
  // Server only: messages queued per connected peer before more are dropped.
  int receive_queue = 1000;
};

struct ChannelCounters {
  std::uint64_t sent = 0;
  std::uint64_t not_sent = 0;  // no peer connected, unknown peer, or its queue full
  std::uint64_t received = 0;
  std::uint64_t rejected = 0;  // not one valid envelope, or unreadable by the handler
  std::uint64_t rebuilt = 0;   // client: fresh sockets after it could not send for a while
};

// The bound end. Peers are told apart by their ROUTER identity.
class ChannelServer {
 public:
  using Peer = std::string;
  using MessageHandler = std::function<void(const Peer& from, const Incoming& message)>;

  // Binds at `endpoint`. For ipc:// it first removes a stale socket file (a previous process's
  // is dead, and ZeroMQ would not bind over it). Throws std::runtime_error if it cannot bind.
  ChannelServer(Context& context, Reactor& reactor, const std::string& endpoint,
                MessageHandler on_message, ChannelOptions options);
  ~ChannelServer();  // closes the socket and removes an ipc socket file
  ChannelServer(const ChannelServer&) = delete;
  ChannelServer& operator=(const ChannelServer&) = delete;

  // Sends one envelope to `peer` now; false if that peer is not connected or cannot keep up.
  bool send(const Peer& peer, const Build& body);
  // The socket file of an ipc:// endpoint (to hand it to a user); nullopt for other transports.
  std::optional<std::filesystem::path> socket_file() const;
  const ChannelCounters& counters() const { return counters_; }
  std::uint64_t incarnation() const { return incarnation_; }

 private:
  void receive_waiting();

  Reactor& reactor_;
  std::string endpoint_;
  MessageHandler on_message_;
  ChannelOptions options_;
  std::uint64_t incarnation_;
  std::uint64_t sequence_ = 0;
  zmq::socket_t socket_;
  ChannelCounters counters_;
};

// The connecting end. ZeroMQ reconnects by itself when the server restarts; while no server is
// connected send() refuses instead of queueing stale messages, and a client that could not send
// for options.rebuild_after connects a fresh socket.
class ChannelClient {
 public:
  using MessageHandler = std::function<void(const Incoming& message)>;

  // Connects (asynchronously) to `endpoint`; throws zmq::error_t for a malformed endpoint.
  ChannelClient(Context& context, Reactor& reactor, const std::string& endpoint,
                MessageHandler on_message, ChannelOptions options);
  ~ChannelClient();
  ChannelClient(const ChannelClient&) = delete;
  ChannelClient& operator=(const ChannelClient&) = delete;

  // Sends one envelope now; false if no server is connected (or its queue is full).
  bool send(const Build& body);
  const ChannelCounters& counters() const { return counters_; }
  std::uint64_t incarnation() const { return incarnation_; }

 private:
  void open_socket();
  void receive_waiting();

  Context& context_;
  Reactor& reactor_;
  std::string endpoint_;
  MessageHandler on_message_;
  ChannelOptions options_;
  std::uint64_t incarnation_;
  std::uint64_t sequence_ = 0;
  zmq::socket_t socket_;
  std::chrono::steady_clock::time_point last_sent_;
  ChannelCounters counters_;
};

}  // namespace mp::bus
