#include <unistd.h>

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <vector>

#include "channel_frames.h"
#include "mp/bus/channel.h"
#include "socket_options.h"

namespace mp::bus {

namespace {

constexpr int kMaxMessagesPerWakeup = 64;  // a flooding peer must not starve the rest of the loop
constexpr std::string_view kIpc = "ipc://";

}  // namespace

ChannelServer::ChannelServer(Context& context, Reactor& reactor, const std::string& endpoint,
                             MessageHandler on_message, ChannelOptions options)
    : reactor_(reactor),
      endpoint_(endpoint),
      on_message_(std::move(on_message)),
      options_(std::move(options)),
      incarnation_(options_.incarnation != 0 ? options_.incarnation : detail::random_incarnation()),
      socket_(context, zmq::socket_type::router) {
  detail::apply_common_options(socket_, options_.limits);
  // Sending to a peer that is gone fails (EHOSTUNREACH) instead of vanishing silently.
  socket_.set(zmq::sockopt::router_mandatory, 1);
  socket_.set(zmq::sockopt::sndhwm, 1000);
  socket_.set(zmq::sockopt::rcvhwm, options_.receive_queue);
  if (!options_.gate_domain.empty()) socket_.set(zmq::sockopt::zap_domain, options_.gate_domain);
  if (auto file = socket_file()) unlink(file->c_str());
  try {
    socket_.bind(endpoint_);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind the " + options_.name + " at " + endpoint_ + ": " +
                             e.what());
  }
  reactor_.watch_socket(socket_, [this] { receive_waiting(); });
}

ChannelServer::~ChannelServer() {
  reactor_.unwatch_socket(socket_);
  socket_.close();
  if (auto file = socket_file()) unlink(file->c_str());
}

std::optional<std::filesystem::path> ChannelServer::socket_file() const {
  if (endpoint_.rfind(kIpc, 0) != 0) return std::nullopt;
  return std::filesystem::path(endpoint_.substr(kIpc.size()));
}

bool ChannelServer::send(const Peer& peer, const Build& body) {
  auto frame = detail::channel_frame(options_, incarnation_, sequence_, body);
  try {
    // With router_mandatory, a full queue refuses the route frame (EAGAIN) before anything went.
    if (socket_.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
        socket_.send(frame, zmq::send_flags::dontwait)) {
      ++counters_.sent;
      return true;
    }
  } catch (const zmq::error_t& e) {
    // The peer went away (EHOSTUNREACH): if it comes back, it will say so.
    spdlog::debug("{}: send: {}", options_.name, e.what());
  }
  ++counters_.not_sent;
  return false;
}

void ChannelServer::receive_waiting() {
  std::vector<zmq::message_t> frames;
  for (int i = 0; i < kMaxMessagesPerWakeup; ++i) {
    if (!detail::receive_multipart(socket_, frames)) return;
    Peer from = detail::to_string(frames.front());
    auto message = detail::decode_channel_message(frames, 2, options_, counters_);
    if (!message) continue;
    detail::run_channel_handler(options_, counters_, [&] { on_message_(from, *message); });
  }
}

}  // namespace mp::bus
