#include <spdlog/spdlog.h>

#include <vector>

#include "channel_frames.h"
#include "mp/bus/channel.h"
#include "socket_options.h"

namespace mp::bus {

namespace {

constexpr int kMaxMessagesPerWakeup = 64;  // the loop has other work too (X events, timers)

}  // namespace

ChannelClient::ChannelClient(Context& context, Reactor& reactor, const std::string& endpoint,
                             MessageHandler on_message, ChannelOptions options)
    : context_(context),
      reactor_(reactor),
      endpoint_(endpoint),
      on_message_(std::move(on_message)),
      options_(std::move(options)),
      incarnation_(options_.incarnation != 0 ? options_.incarnation
                                             : detail::random_incarnation()) {
  open_socket();
}

ChannelClient::~ChannelClient() { reactor_.unwatch_socket(socket_); }

void ChannelClient::open_socket() {
  socket_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  detail::apply_common_options(socket_, options_.limits);
  // Nothing is queued while the server is away: what a client sends is worth something now
  // (a heartbeat), and a burst of old messages after a restart would only repeat work.
  socket_.set(zmq::sockopt::immediate, 1);
  socket_.set(zmq::sockopt::sndhwm, 64);
  socket_.set(zmq::sockopt::rcvhwm, 256);
  socket_.connect(endpoint_);
  reactor_.watch_socket(socket_, [this] { receive_waiting(); });
  last_sent_ = std::chrono::steady_clock::now();
}

bool ChannelClient::send(const Build& body) {
  auto frame = detail::channel_frame(options_, incarnation_, sequence_, body);
  if (socket_.send(frame, zmq::send_flags::dontwait)) {
    ++counters_.sent;
    last_sent_ = std::chrono::steady_clock::now();
    return true;
  }
  ++counters_.not_sent;
  if (std::chrono::steady_clock::now() - last_sent_ > options_.rebuild_after) {
    // Either the server is away (a new socket changes nothing) or ZeroMQ gave up on the
    // connection after a protocol error (a new socket is the only way back).
    spdlog::info("{}: could not send for {} ms: connecting a fresh socket", options_.name,
                 options_.rebuild_after.count());
    reactor_.unwatch_socket(socket_);
    socket_.close();
    open_socket();
    ++counters_.rebuilt;
  }
  return false;
}

void ChannelClient::receive_waiting() {
  std::vector<zmq::message_t> frames;
  for (int i = 0; i < kMaxMessagesPerWakeup; ++i) {
    if (!detail::receive_multipart(socket_, frames)) return;
    auto message = detail::decode_channel_message(frames, 1, options_, counters_);
    if (!message) continue;
    detail::run_channel_handler(options_, counters_, [&] { on_message_(*message); });
  }
}

}  // namespace mp::bus
