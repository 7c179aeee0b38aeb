#include "agent_channel.h"

#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <stdexcept>
#include <string>

#include "validation.h"

namespace mp::session {

using mp::bus::Incoming;
using mp::schema::Envelope;
using namespace std::chrono;

namespace {

constexpr std::size_t kMaxReplyBytes = 4096;
// An agent sends a few heartbeats a second and rarely anything else: a short queue is enough,
// and a flooding one holds no more than this of mp-session's memory.
constexpr int kReceiveQueue = 64;
// A lease runs a little past what was asked: the image made just before it ended is welcome.
constexpr auto kLeaseSlack = std::chrono::seconds(1);

}  // namespace

AgentChannel::AgentChannel(mp::bus::Context& context, mp::bus::Reactor& reactor,
                           const std::filesystem::path& socket_file, std::optional<uid_t> owner,
                           std::uint64_t session_id, std::uint64_t state_incarnation, Events events,
                           Options options)
    : reactor_(reactor),
      session_id_(session_id),
      incarnation_(state_incarnation),
      events_(std::move(events)),
      options_(options),
      messages_(options.messages_per_second, 2 * options.messages_per_second),
      bytes_(options.bytes_per_second, 2 * options.bytes_per_second),
      replies_(options.replies_per_second, 5 * options.replies_per_second),
      server_(
          context, reactor, "ipc://" + socket_file.string(),
          [this](const mp::bus::ChannelServer::Peer& from, const Incoming& message) {
            handle(from, message);
          },
          mp::bus::ChannelOptions{
              .name = "session " + std::to_string(session_id) + " agent channel",
              .source = "session",
              .incarnation = state_incarnation,
              .limits = options.limits,
              .gate_domain = options.gate_domain,
              .receive_queue = kReceiveQueue}) {
  if (owner && (chown(socket_file.c_str(), *owner, static_cast<gid_t>(-1)) != 0 ||
                chmod(socket_file.c_str(), 0600) != 0)) {
    throw std::runtime_error("cannot hand the agent socket " + socket_file.string() + " to uid " +
                             std::to_string(*owner));
  }
  if (!owner) chmod(socket_file.c_str(), 0600);
  timer_ = reactor_.every(options_.check_every, [this] { check_liveness(); });
}

AgentChannel::~AgentChannel() { reactor_.cancel(timer_); }

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

void AgentChannel::note_over_budget(const char* what) {
  // One line per 100 drops: a flooding agent must not flood the log either.
  if (over_budget_++ % 100 == 0) {
    spdlog::warn("session {}: the agent sends more {} than allowed: dropped ({} so far)",
                 session_id_, what, over_budget_);
  }
}

bool AgentChannel::within_budget(const Incoming& message) {
  auto now = steady_clock::now();
  if (!messages_.take(1, now)) {
    note_over_budget("messages");
    return false;
  }
  if (!bytes_.take(static_cast<double>(message.size_bytes()), now)) {
    note_over_budget("bytes");
    return false;
  }
  return true;
}

void AgentChannel::handle(const mp::bus::ChannelServer::Peer& route, const Incoming& message) {
  if (!within_budget(message)) return;
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
      if (!replies_.take(1, steady_clock::now())) {
        note_over_budget("replies");
        return;
      }
      if (events_.reply) events_.reply(reply.getMessageId(), text);
      return;
    }
    case Envelope::AGENT_THUMBNAIL:
      take_thumbnail(envelope.getAgentThumbnail());
      return;
    case Envelope::AGENT_NOTICE_ACKNOWLEDGED:
      if (events_.notice_acknowledged) events_.notice_acknowledged();
      return;
    default:
      spdlog::warn("session {}: agent channel: unexpected {}", session_id_,
                   mp::bus::body_name(envelope));
  }
}

void AgentChannel::send_state(const mp::bus::ChannelServer::Peer& route) {
  server_.send(route, [this](Envelope::Builder e) {
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

bool AgentChannel::connected(std::string* reason) const {
  if (up_ && !route_.empty()) return true;
  if (reason) *reason = "the session's agent is not connected";
  return false;
}

bool AgentChannel::show_message(std::uint64_t message_id, const std::string& from,
                                const std::string& text, std::string* reason) {
  if (!connected(reason)) return false;
  server_.send(route_, [&](Envelope::Builder e) {
    auto show = e.initAgentShowMessage();
    show.setMessageId(message_id);
    show.setFrom(from);
    show.setText(text);
  });
  return true;
}

bool AgentChannel::request_thumbnails(const ThumbnailRequest& request, std::string* reason) {
  if (!connected(reason)) return false;
  if (request.lease_ms == 0) {
    leases_.erase(request.stream);
  } else {
    Lease& lease = leases_[request.stream];
    lease.until = steady_clock::now() + milliseconds(request.lease_ms) + kLeaseSlack;
    lease.min_gap = milliseconds(request.interval_ms / 2);
  }
  server_.send(route_, [&](Envelope::Builder e) {
    auto r = e.initAgentThumbnailRequest();
    r.setStream(request.stream);
    r.setIntervalMs(request.interval_ms);
    r.setWidth(request.width);
    r.setMaxBytes(request.max_bytes);
    r.setLeaseMs(request.lease_ms);
  });
  return true;
}

bool AgentChannel::send_input(capnp::List<mp::schema::InputEvent>::Reader events,
                              std::string* reason) {
  if (!connected(reason)) return false;
  server_.send(route_, [&](Envelope::Builder e) { e.initAgentInput().setEvents(events); });
  return true;
}

void AgentChannel::take_thumbnail(mp::schema::AgentThumbnail::Reader thumbnail) {
  // The agent runs as the student: its images are checked like any input from the wire.
  auto jpeg = thumbnail.getJpeg();
  const char* why = nullptr;
  if (thumbnail.getStream() > kMaxStream) {
    why = "unknown stream";
  } else if (jpeg.size() < 4 || jpeg.size() > kMaxThumbnailBytes) {
    why = "size out of bounds";
  } else if (jpeg[0] != 0xFF || jpeg[1] != 0xD8) {
    why = "not a JPEG";
  } else if (thumbnail.getWidth() == 0 || thumbnail.getHeight() == 0 ||
             thumbnail.getWidth() > kMaxImageSide || thumbnail.getHeight() > kMaxImageSide) {
    why = "dimensions out of bounds";
  }
  auto now = steady_clock::now();
  if (why == nullptr) {
    auto lease = leases_.find(thumbnail.getStream());
    if (lease == leases_.end() || now > lease->second.until) {
      why = "nobody asked for it";
    } else if (now - lease->second.last < lease->second.min_gap) {
      why = "sooner than asked";
    } else {
      lease->second.last = now;
    }
  }
  if (why != nullptr) {
    // At most one line per 100 drops: a broken agent must not flood the log.
    if (thumbnails_dropped_++ % 100 == 0) {
      spdlog::warn("session {}: thumbnail dropped: {} ({} dropped so far)", session_id_, why,
                   thumbnails_dropped_);
    }
    return;
  }
  if (events_.thumbnail) events_.thumbnail(thumbnail);
}

}  // namespace mp::session
