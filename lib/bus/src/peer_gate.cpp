#include "mp/bus/peer_gate.h"

#include <spdlog/spdlog.h>

#include <charconv>
#include <stdexcept>
#include <vector>

namespace mp::bus {

namespace {

constexpr const char* kZapEndpoint = "inproc://zeromq.zap.01";
constexpr int kMaxRequestsPerWakeup = 64;
// A ZAP request: version, request id, domain, address, identity, mechanism, credentials...
constexpr std::size_t kMinRequestFrames = 6;
constexpr std::size_t kMaxRequestFrames = 16;

template <typename T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::optional<IpcPeer> parse_ipc_peer(std::string_view address) {
  constexpr std::string_view kPrefix = "localhost:";
  if (address.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  address.remove_prefix(kPrefix.size());
  auto first = address.find(':');
  auto second = first == std::string_view::npos ? first : address.find(':', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  IpcPeer peer;
  if (!parse_number(address.substr(0, first), peer.uid) ||
      !parse_number(address.substr(first + 1, second - first - 1), peer.gid) ||
      !parse_number(address.substr(second + 1), peer.pid) || peer.pid <= 0) {
    return std::nullopt;
  }
  return peer;
}

PeerGate::PeerGate(Context& context, Reactor& reactor, Decide decide)
    : reactor_(reactor), decide_(std::move(decide)), socket_(context, zmq::socket_type::rep) {
  try {
    socket_.bind(kZapEndpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error(std::string("cannot bind the ZAP handler: ") + e.what());
  }
  reactor_.watch_socket(socket_, [this] { answer_waiting(); });
}

PeerGate::~PeerGate() {
  reactor_.unwatch_socket(socket_);
  socket_.close();
}

void PeerGate::answer_waiting() {
  for (int i = 0; i < kMaxRequestsPerWakeup; ++i) {
    std::vector<zmq::message_t> frames;
    while (true) {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) {
        if (frames.empty()) return;
        break;  // cannot happen for a multipart message already begun; answer what we have
      }
      bool more = frame.more();
      if (frames.size() < kMaxRequestFrames) frames.push_back(std::move(frame));
      if (!more) break;
    }
    // libzmq is the only sender on this inproc endpoint: a malformed request is a bug there,
    // but it still gets an answer (REP must answer to receive again).
    bool ok = false;
    std::string domain, address;
    if (frames.size() >= kMinRequestFrames && frames[0].to_string_view() == "1.0") {
      domain = frames[2].to_string();
      address = frames[3].to_string();
      auto peer = parse_ipc_peer(address);
      ok = peer && decide_ && decide_(domain, *peer);
    }
    ++(ok ? counters_.accepted : counters_.refused);
    if (!ok) spdlog::warn("{}: connection from {} refused", domain, address);
    std::string id = frames.size() > 1 ? frames[1].to_string() : std::string();
    socket_.send(zmq::str_buffer("1.0"), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(id), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(std::string(ok ? "200" : "400")), zmq::send_flags::sndmore);
    socket_.send(zmq::buffer(std::string(ok ? "OK" : "not this channel's process")),
                 zmq::send_flags::sndmore);
    socket_.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
    socket_.send(zmq::str_buffer(""), zmq::send_flags::none);
  }
}

}  // namespace mp::bus
