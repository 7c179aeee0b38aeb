#include "session_link.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <random>

namespace mp::agent {

namespace {

constexpr int kMaxMessagesPerWakeup = 64;  // the loop also has X events to serve

std::uint64_t random_incarnation() {
  std::random_device device;
  std::uint64_t value = (std::uint64_t(device()) << 32) ^ device();
  return value == 0 ? 1 : value;
}

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Garbage from the channel is logged, but a flood of it must not flood the journal.
bool worth_logging(std::uint64_t count) { return count <= 10 || (count & (count - 1)) == 0; }

}  // namespace

SessionLink::SessionLink(zmq::context_t& context, mp::bus::Reactor& reactor,
                         const std::string& endpoint, MessageHandler on_message,
                         mp::bus::Limits limits)
    : context_(context),
      endpoint_(endpoint),
      reactor_(reactor),
      limits_(limits),
      on_message_(std::move(on_message)),
      incarnation_(random_incarnation()) {
  open_socket();
}

SessionLink::~SessionLink() { reactor_.unwatch_socket(socket_); }

void SessionLink::open_socket() {
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  // ZeroMQ drops a connection that sends more than this before we ever see the frame.
  socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(limits_.max_message_bytes + 1024));
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::reconnect_ivl, 100);
  socket_.set(zmq::sockopt::reconnect_ivl_max, 500);
  // Nothing is queued while mp-session is away: a heartbeat is only worth something now,
  // and a burst of old ones after a restart would only make it resend the state many times.
  socket_.set(zmq::sockopt::immediate, 1);
  socket_.set(zmq::sockopt::sndhwm, 64);
  socket_.set(zmq::sockopt::rcvhwm, 256);
  socket_.connect(endpoint_);
  reactor_.watch_socket(socket_, [this] { receive_waiting(); });
  last_sent_ = std::chrono::steady_clock::now();
}

bool SessionLink::send(const BodyBuilder& body) {
  mp::bus::Outgoing message;
  auto envelope = message.envelope();
  auto header = envelope.initHeader();
  header.setSource("agent");
  header.setIncarnation(incarnation_);
  header.setSequence(++sequence_);
  header.setSentAtNs(now_ns());
  body(envelope);
  auto frame = message.to_frame();
  if (socket_.send(frame, zmq::send_flags::dontwait)) {
    ++counters_.sent;
    last_sent_ = std::chrono::steady_clock::now();
    return true;
  }
  ++counters_.not_sent;
  if (std::chrono::steady_clock::now() - last_sent_ > kRebuildAfter) {
    // Either mp-session is away (a new socket changes nothing) or ZeroMQ gave up on the
    // connection after a protocol error (a new socket is the only way back).
    spdlog::info("session channel silent for {} ms: connecting a fresh socket",
                 kRebuildAfter.count());
    reactor_.unwatch_socket(socket_);
    socket_.close();
    open_socket();
    ++counters_.rebuilt;
  }
  return false;
}

void SessionLink::receive_waiting() {
  for (int i = 0; i < kMaxMessagesPerWakeup; ++i) {
    zmq::message_t frame;
    if (!socket_.recv(frame, zmq::recv_flags::dontwait)) return;
    std::size_t parts = 1;
    bool more = frame.more();
    while (more) {  // mp-session sends one frame per message; anything else is dropped whole
      zmq::message_t rest;
      if (!socket_.recv(rest, zmq::recv_flags::dontwait)) break;
      more = rest.more();
      ++parts;
    }
    if (parts > 1) {
      if (worth_logging(++counters_.rejected)) {
        spdlog::warn("dropped a message of {} frames from the session channel ({} so far)", parts,
                     counters_.rejected);
      }
      continue;
    }
    mp::bus::DecodeError error = mp::bus::DecodeError::none;
    auto message = mp::bus::Incoming::decode(std::move(frame), limits_, &error);
    if (!message) {
      if (worth_logging(++counters_.rejected)) {
        spdlog::warn("dropped a frame from the session channel: {} ({} so far)",
                     mp::bus::to_string(error), counters_.rejected);
      }
      continue;
    }
    ++counters_.received;
    on_message_(*message);
  }
}

}  // namespace mp::agent
