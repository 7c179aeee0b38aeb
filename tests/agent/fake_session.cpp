#include "fake_session.h"

#include <future>
#include <random>

#include "mp/bus/frame.h"

namespace mp::test {

namespace {

std::string to_string(const zmq::message_t& m) {
  return std::string(static_cast<const char*>(m.data()), m.size());
}

void send_to(zmq::socket_t& socket, const std::string& route, std::vector<zmq::message_t> frames) {
  if (route.empty()) return;  // no agent heard from yet
  socket.send(zmq::buffer(route), zmq::send_flags::sndmore);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    socket.send(frames[i],
                i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
}

}  // namespace

FakeSession::FakeSession(std::string endpoint, DesiredState initial)
    : endpoint_(std::move(endpoint)), state_(std::move(initial)) {
  std::random_device device;
  incarnation_ = (std::uint64_t(device()) << 32) | device() | 1;
  // Bound before the constructor returns, so an agent started next finds the socket.
  std::promise<void> bound;
  auto bound_future = bound.get_future();
  thread_ = std::thread([this, &bound] {
    zmq::socket_t socket(context_, zmq::socket_type::router);
    try {
      socket.set(zmq::sockopt::linger, 0);
      socket.bind(endpoint_);
    } catch (...) {
      bound.set_exception(std::current_exception());
      return;
    }
    bound.set_value();
    serve(socket);
  });
  bound_future.get();
}

FakeSession::~FakeSession() {
  stop_ = true;
  thread_.join();
}

void FakeSession::serve(zmq::socket_t& socket) {
  while (!stop_) {
    zmq::pollitem_t item{socket.handle(), 0, ZMQ_POLLIN, 0};
    zmq::poll(&item, 1, std::chrono::milliseconds(5));
    run_commands(socket);
    while (true) {
      zmq::message_t route, frame;
      if (!socket.recv(route, zmq::recv_flags::dontwait)) break;
      if (!route.more() || !socket.recv(frame, zmq::recv_flags::dontwait)) continue;
      bool more = frame.more();
      while (more) {  // the agent sends one frame per message; drain anything else
        zmq::message_t rest;
        if (!socket.recv(rest, zmq::recv_flags::dontwait)) break;
        more = rest.more();
      }
      handle(socket, to_string(route), std::move(frame));
    }
  }
}

void FakeSession::run_commands(zmq::socket_t& socket) {
  std::vector<std::function<void(zmq::socket_t&)>> commands;
  {
    std::lock_guard lock(mutex_);
    commands.swap(commands_);
  }
  for (auto& command : commands) command(socket);
}

void FakeSession::handle(zmq::socket_t& socket, const std::string& route, zmq::message_t&& frame) {
  auto message = mp::bus::Incoming::decode(std::move(frame), mp::bus::Limits{});
  bool answer_with_state = false;
  {
    std::lock_guard lock(mutex_);
    if (!message) {
      ++undecodable_;
      return;
    }
    auto envelope = message->envelope();
    switch (envelope.which()) {
      case mp::schema::Envelope::AGENT_HEARTBEAT: {
        auto h = envelope.getAgentHeartbeat();
        heartbeats_.push_back(SeenHeartbeat{h.getSessionId(), h.getPid(), h.getDisplay(),
                                            h.getStateIncarnation(), h.getStateVersion(),
                                            h.getLockShown(), std::chrono::steady_clock::now()});
        last_route_ = route;
        answer_with_state =
            h.getStateIncarnation() != incarnation_ || h.getStateVersion() != version_;
        break;
      }
      case mp::schema::Envelope::AGENT_REPLY:
        replies_.push_back(
            SeenReply{envelope.getAgentReply().getMessageId(), envelope.getAgentReply().getText()});
        break;
      case mp::schema::Envelope::AGENT_NOTICE_ACKNOWLEDGED:
        ++notice_acknowledgements_;
        break;
      case mp::schema::Envelope::AGENT_THUMBNAIL: {
        auto t = envelope.getAgentThumbnail();
        auto jpeg = t.getJpeg();
        thumbnails_.push_back(SeenThumbnail{
            t.getStream(), std::string(reinterpret_cast<const char*>(jpeg.begin()), jpeg.size()),
            t.getWidth(), t.getHeight(), std::chrono::steady_clock::now()});
        break;
      }
      default:
        ++undecodable_;
        break;
    }
  }
  if (answer_with_state) send_state(socket, route);
}

void FakeSession::send_state(zmq::socket_t& socket, const std::string& route) {
  mp::bus::Outgoing out;
  {
    std::lock_guard lock(mutex_);
    out.envelope().initHeader().setSource("session");
    auto body = out.envelope().initAgentState();
    body.setStateIncarnation(incarnation_);
    body.setStateVersion(version_);
    body.setLocked(state_.locked);
    body.setLockMessage(state_.lock_message);
    body.setPrivacyNotice(state_.privacy_notice);
    last_state_sent_ = std::chrono::steady_clock::now();
  }
  std::vector<zmq::message_t> frames;
  frames.push_back(out.to_frame());
  send_to(socket, route, std::move(frames));
}

void FakeSession::set_state(DesiredState state) {
  std::lock_guard lock(mutex_);
  state_ = std::move(state);
  ++version_;
  commands_.push_back([this](zmq::socket_t& socket) {
    std::string route;
    {
      std::lock_guard inner(mutex_);
      route = last_route_;
    }
    send_state(socket, route);
  });
}

void FakeSession::show_message(std::uint64_t id, const std::string& from, const std::string& text) {
  send_body([id, from, text](mp::schema::Envelope::Builder e) {
    auto body = e.initAgentShowMessage();
    body.setMessageId(id);
    body.setFrom(from);
    body.setText(text);
  });
}

void FakeSession::request_thumbnails(std::uint8_t stream, std::uint32_t interval_ms,
                                     std::uint16_t width, std::uint32_t max_bytes,
                                     std::uint32_t lease_ms) {
  send_body([=](mp::schema::Envelope::Builder e) {
    auto body = e.initAgentThumbnailRequest();
    body.setStream(stream);
    body.setIntervalMs(interval_ms);
    body.setWidth(width);
    body.setMaxBytes(max_bytes);
    body.setLeaseMs(lease_ms);
  });
}

void FakeSession::send_body(std::function<void(mp::schema::Envelope::Builder)> body) {
  std::lock_guard lock(mutex_);
  commands_.push_back([this, body = std::move(body)](zmq::socket_t& socket) {
    mp::bus::Outgoing out;
    out.envelope().initHeader().setSource("session");
    body(out.envelope());
    std::vector<zmq::message_t> frames;
    frames.push_back(out.to_frame());
    std::string route;
    {
      std::lock_guard inner(mutex_);
      route = last_route_;
    }
    send_to(socket, route, std::move(frames));
  });
}

void FakeSession::send_raw(std::vector<std::string> raw) {
  std::lock_guard lock(mutex_);
  commands_.push_back([this, raw](zmq::socket_t& socket) {
    std::vector<zmq::message_t> frames;
    for (const auto& r : raw) frames.emplace_back(r.data(), r.size());
    std::string route;
    {
      std::lock_guard inner(mutex_);
      route = last_route_;
    }
    send_to(socket, route, std::move(frames));
  });
}

std::chrono::steady_clock::time_point FakeSession::last_state_sent() const {
  std::lock_guard lock(mutex_);
  return last_state_sent_;
}

std::vector<SeenHeartbeat> FakeSession::heartbeats() const {
  std::lock_guard lock(mutex_);
  return heartbeats_;
}

std::vector<SeenHeartbeat> FakeSession::heartbeats_from(std::int32_t pid) const {
  std::lock_guard lock(mutex_);
  std::vector<SeenHeartbeat> out;
  for (const auto& h : heartbeats_) {
    if (h.pid == pid) out.push_back(h);
  }
  return out;
}

std::optional<SeenHeartbeat> FakeSession::last_heartbeat() const {
  std::lock_guard lock(mutex_);
  if (heartbeats_.empty()) return std::nullopt;
  return heartbeats_.back();
}

std::vector<SeenReply> FakeSession::replies() const {
  std::lock_guard lock(mutex_);
  return replies_;
}

std::vector<SeenThumbnail> FakeSession::thumbnails() const {
  std::lock_guard lock(mutex_);
  return thumbnails_;
}

int FakeSession::notice_acknowledgements() const {
  std::lock_guard lock(mutex_);
  return notice_acknowledgements_;
}

int FakeSession::undecodable() const {
  std::lock_guard lock(mutex_);
  return undecodable_;
}

}  // namespace mp::test
