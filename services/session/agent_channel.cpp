#include "agent_channel.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <stdexcept>
#include <vector>

#include "validation.h"

namespace mp::session {

using mp::bus::Incoming;
using mp::schema::Envelope;
using namespace std::chrono;

namespace {

constexpr std::size_t kMaxReplyBytes = 4096;

std::int64_t realtime_ns() {
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

AgentChannel::AgentChannel(zmq::context_t& context, mp::bus::Reactor& reactor,
                           const std::filesystem::path& socket_file, std::optional<uid_t> owner,
                           std::uint64_t session_id, std::uint64_t state_incarnation, Events events,
                           Options options)
    : reactor_(reactor),
      socket_(context, zmq::socket_type::router),
      socket_file_(socket_file),
      session_id_(session_id),
      incarnation_(state_incarnation),
      events_(std::move(events)),
      options_(options) {
  socket_.set(zmq::sockopt::linger, 0);
  socket_.set(zmq::sockopt::maxmsgsize,
              static_cast<std::int64_t>(options_.limits.max_message_bytes));
  socket_.set(zmq::sockopt::router_mandatory, 1);
  socket_.set(zmq::sockopt::sndhwm, 1000);
  // The socket file of a dead mp-session is still there: ZeroMQ would refuse to bind over it.
  unlink(socket_file_.c_str());
  try {
    socket_.bind("ipc://" + socket_file_.string());
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind the agent channel at " + socket_file_.string() + ": " +
                             e.what());
  }
  if (owner && (chown(socket_file_.c_str(), *owner, static_cast<gid_t>(-1)) != 0 ||
                chmod(socket_file_.c_str(), 0600) != 0)) {
    throw std::runtime_error("cannot hand the agent socket " + socket_file_.string() + " to uid " +
                             std::to_string(*owner));
  }
  if (!owner) chmod(socket_file_.c_str(), 0600);
  reactor_.watch_socket(socket_, [this] { on_readable(); });
  timer_ = reactor_.every(options_.check_every, [this] { check_liveness(); });
}

AgentChannel::~AgentChannel() {
  reactor_.cancel(timer_);
  reactor_.unwatch_socket(socket_);
  socket_.close();
  unlink(socket_file_.c_str());
}

void AgentChannel::assume_up() {
  last_heartbeat_ = steady_clock::now();
  up_ = true;
}

void AgentChannel::set_up(bool up) {
  if (up == up_) return;
  up_ = up;
  if (events_.up_changed) events_.up_changed(up);
}

void AgentChannel::check_liveness() {
  if (up_ && steady_clock::now() - last_heartbeat_ > options_.dead_after) {
    spdlog::info("session {}: agent silent for {} ms: down", session_id_,
                 options_.dead_after.count());
    set_up(false);
  }
}

void AgentChannel::on_readable() {
  // Bounded per wake-up: a flooding peer cannot starve the rest of the service.
  for (int i = 0; i < 64; ++i) {
    std::vector<zmq::message_t> frames;
    while (true) {
      zmq::message_t frame;
      if (!socket_.recv(frame, zmq::recv_flags::dontwait)) break;
      bool more = frame.more();
      if (frames.size() < 4) frames.push_back(std::move(frame));
      if (!more) break;
    }
    if (frames.empty()) return;
    if (frames.size() != 2) {
      spdlog::warn("session {}: agent channel: dropped a message of {} frames", session_id_,
                   frames.size());
      continue;
    }
    std::string route = frames[0].to_string();
    mp::bus::DecodeError error = mp::bus::DecodeError::none;
    auto message = Incoming::decode(std::move(frames[1]), options_.limits, &error);
    if (!message) {
      spdlog::warn("session {}: agent channel: undecodable frame ({})", session_id_,
                   mp::bus::to_string(error));
      continue;
    }
    try {
      handle(route, *message);
    } catch (const std::exception& e) {
      spdlog::warn("session {}: agent channel: bad message: {}", session_id_, e.what());
    }
  }
}

void AgentChannel::handle(const std::string& route, const Incoming& message) {
  auto envelope = message.envelope();
  switch (envelope.which()) {
    case Envelope::AGENT_HEARTBEAT: {
      auto beat = envelope.getAgentHeartbeat();
      if (beat.getSessionId() != session_id_) {
        spdlog::warn("session {}: heartbeat names session {}; ignored", session_id_,
                     beat.getSessionId());
        return;
      }
      route_ = route;
      last_heartbeat_ = steady_clock::now();
      agent_pid_ = beat.getPid();
      lock_shown_ = beat.getLockShown();
      ++heartbeats_;
      if (beat.getStateIncarnation() != incarnation_ || beat.getStateVersion() != state_version_) {
        send_state(route);
      }
      set_up(true);
      return;
    }
    case Envelope::AGENT_REPLY: {
      auto reply = envelope.getAgentReply();
      std::string text(reply.getText().begin(), reply.getText().size());
      if (reply.getMessageId() == 0) {
        spdlog::warn("session {}: reply without a message id; dropped", session_id_);
        return;
      }
      if (auto e = check_text("text", text, kMaxReplyBytes); !e.empty()) {
        spdlog::warn("session {}: reply dropped: {}", session_id_, e);
        return;
      }
      if (events_.reply) events_.reply(reply.getMessageId(), text);
      return;
    }
    case Envelope::AGENT_NOTICE_ACKNOWLEDGED:
      if (events_.notice_acknowledged) events_.notice_acknowledged();
      return;
    default:
      spdlog::warn("session {}: agent channel: unexpected {}", session_id_,
                   mp::bus::body_name(envelope));
  }
}

void AgentChannel::send(const std::string& route,
                        const std::function<void(Envelope::Builder)>& body) {
  mp::bus::Outgoing out;
  auto header = out.envelope().initHeader();
  header.setSource("session");
  header.setIncarnation(incarnation_);
  header.setSequence(++sequence_);
  header.setSentAtNs(realtime_ns());
  body(out.envelope());
  try {
    socket_.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    socket_.send(out.to_frame(), zmq::send_flags::dontwait);
  } catch (const zmq::error_t& e) {
    // The agent went away (EHOSTUNREACH) or cannot keep up: its next heartbeat resyncs it.
    spdlog::debug("session {}: agent channel send: {}", session_id_, e.what());
  }
}

void AgentChannel::send_state(const std::string& route) {
  send(route, [this](Envelope::Builder e) {
    auto state = e.initAgentState();
    state.setStateIncarnation(incarnation_);
    state.setStateVersion(state_version_);
    state.setLocked(state_.locked);
    state.setLockMessage(state_.lock_message);
    state.setPrivacyNotice(state_.privacy_notice);
  });
}

void AgentChannel::set_state(const AgentStateWanted& state) {
  if (state == state_) return;
  state_ = state;
  ++state_version_;
  if (!route_.empty()) send_state(route_);
}

bool AgentChannel::show_message(std::uint64_t message_id, const std::string& from,
                                const std::string& text, std::string* reason) {
  if (!up_ || route_.empty()) {
    if (reason) *reason = "the session's agent is not connected";
    return false;
  }
  send(route_, [&](Envelope::Builder e) {
    auto show = e.initAgentShowMessage();
    show.setMessageId(message_id);
    show.setFrom(from);
    show.setText(text);
  });
  return true;
}

}  // namespace mp::session
