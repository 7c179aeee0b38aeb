#include "mp/bus/client.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <capnp/serialize.h>
#include <kj/io.h>

#include <cstring>
#include <stdexcept>
#include <utility>

#include "socket_options.h"

namespace mp::bus {

using namespace std::chrono;
using detail::now_ns;
using detail::to_string;
using mp::schema::Envelope;
using mp::schema::Error;

namespace {

// Failed, overloaded, unavailable: a retry may succeed, so the reply is not remembered.
bool is_transient_error(Envelope::Reader reply) {
  if (!reply.isError()) return false;
  auto kind = reply.getError().getKind();
  return kind == Error::Kind::FAILED || kind == Error::Kind::OVERLOADED ||
         kind == Error::Kind::UNAVAILABLE;
}

}  // namespace

Error::Kind Reply::error_kind() const {
  if (!message) return local_error;
  return message->error_kind();
}

std::string Reply::error_text() const {
  if (!message) return local_error_text;
  return message->error_text();
}

Client::Client(zmq::context_t& context, Reactor& reactor, Endpoints endpoints,
               ClientOptions options)
    : context_(context),
      reactor_(reactor),
      endpoints_(std::move(endpoints)),
      options_(std::move(options)),
      incarnation_(detail::random_incarnation()),
      requests_(context, zmq::socket_type::dealer) {
  detail::apply_common_options(requests_, options_.limits);
  requests_.connect(endpoints_.requests);
  // Connected now, not at the first publish: a PUB drops what it sends before it is connected.
  publisher_.emplace(context_, zmq::socket_type::pub);
  detail::apply_common_options(*publisher_, options_.limits);
  publisher_->set(zmq::sockopt::sndhwm, 100000);
  publisher_->connect(endpoints_.events_in);
  reactor_.watch_socket(requests_, [this] { on_request_socket(); });
}

Client::~Client() {
  // Nobody will answer these any more; their requesters may retry elsewhere at once.
  while (!deferred_.empty()) {
    answer_deferred(deferred_.begin()->first, [this](Envelope::Builder e) {
      set_error(e, Error::Kind::UNAVAILABLE, "'" + options_.service + "' is stopping");
    });
  }
  lifeline_.reset();
  if (handler_) {
    send_control([&](Envelope::Builder e) { e.initUnregister().setService(options_.service); });
  }
  if (tick_timer_) reactor_.cancel(tick_timer_);
  for (auto& [id, pending] : pending_) reactor_.cancel(pending.timer);
  reactor_.unwatch_socket(requests_);
  if (subscriber_) reactor_.unwatch_socket(*subscriber_);
  // A clean goodbye must leave before the socket closes.
  if (handler_) requests_.set(zmq::sockopt::linger, 200);
}

void Client::fill_header(Envelope::Builder envelope, std::uint64_t correlation_id) {
  auto header = envelope.initHeader();
  header.setSource(options_.service);
  header.setIncarnation(incarnation_);
  header.setSequence(++sequence_);
  header.setCorrelationId(correlation_id);
  header.setSentAtNs(now_ns());
  if (!options_.operator_name.empty()) header.setOperator(options_.operator_name);
}

// Events --------------------------------------------------------------------------------------

void Client::publish(std::string_view topic, const Build& body, std::uint64_t state_version) {
  Outgoing out;
  auto envelope = out.envelope();
  fill_header(envelope, 0);
  envelope.getHeader().setStateVersion(state_version);
  body(envelope);
  zmq::message_t frame = out.to_frame();
  if (over_limit(frame)) {
    ++counters_.oversized_messages;
    spdlog::error("event '{}' ({}) is {} bytes, over the bus's limit of {}: not published", topic,
                  body_name(envelope), frame.size(), options_.limits.max_message_bytes);
    return;
  }
  publisher_->send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  publisher_->send(frame, zmq::send_flags::dontwait);
}

void Client::subscribe(const std::string& prefix, EventHandler handler) {
  if (!subscriber_) {
    subscriber_.emplace(context_, zmq::socket_type::sub);
    detail::apply_common_options(*subscriber_, options_.limits);
    subscriber_->set(zmq::sockopt::rcvhwm, 100000);
    subscriber_->connect(endpoints_.events_out);
    reactor_.watch_socket(*subscriber_, [this] { on_event_socket(); });
  }
  subscriber_->set(zmq::sockopt::subscribe, prefix);
  subscriptions_.emplace_back(prefix, std::move(handler));
}

void Client::on_event_socket() {
  std::vector<zmq::message_t> frames;
  for (int n = 0; n < 512; ++n) {
    if (!detail::receive_multipart(*subscriber_, frames)) return;
    if (frames.size() != 2) {
      ++counters_.rejected_frames;
      continue;
    }
    std::string topic = to_string(frames[0]);
    auto event = Incoming::decode(std::move(frames[1]), options_.limits);
    if (!event) {
      ++counters_.rejected_frames;
      continue;
    }
    // Handlers may subscribe more; iterate over a stable count.
    std::size_t count = subscriptions_.size();
    for (std::size_t i = 0; i < count; ++i) {
      if (topic.rfind(subscriptions_[i].first, 0) != 0) continue;
      try {
        subscriptions_[i].second(topic, *event);
      } catch (const std::exception& e) {
        ++counters_.handler_failures;
        spdlog::error("handler for event '{}' failed: {}", topic, e.what());
      } catch (const kj::Exception& e) {
        // A structure that passed the frame checks but not a typed read: bad input.
        ++counters_.rejected_frames;
        spdlog::warn("event '{}' from {} unreadable: {}", topic, event->header().getSource().cStr(),
                     e.getDescription().cStr());
      }
    }
  }
}

// Requests ------------------------------------------------------------------------------------

void Client::request(std::string_view service, const Build& body, const RequestOptions& options,
                     ReplyHandler on_reply) {
  std::uint64_t correlation = next_correlation_++;
  Outgoing out;
  auto envelope = out.envelope();
  fill_header(envelope, correlation);
  auto header = envelope.getHeader();
  header.setDeadlineNs(now_ns() + duration_cast<nanoseconds>(options.deadline).count());
  if (!options.idempotency_key.empty()) header.setIdempotencyKey(options.idempotency_key);
  body(envelope);

  Pending pending;
  pending.on_reply = std::move(on_reply);
  pending.service = std::string(service);
  pending.frame = out.to_frame();
  int attempts = options.idempotency_key.empty() ? 1 : std::max(1, options.attempts);
  pending.attempts_left = attempts - 1;
  auto interval = options.deadline / attempts;
  pending.timer = reactor_.every(std::max(interval, milliseconds(1)),
                                 [this, correlation] { on_request_timer(correlation); });
  pending.deadline = steady_clock::now() + options.deadline;
  auto& stored = pending_.emplace(correlation, std::move(pending)).first->second;
  if (over_limit(stored.frame)) {
    // The broker would drop the connection for it; the caller learns why at once.
    ++counters_.oversized_messages;
    std::string why = "request too large (" + std::to_string(stored.frame.size()) + " bytes)";
    spdlog::error("{} to '{}': {}, over the bus's limit of {}: not sent", body_name(envelope),
                  service, why, options_.limits.max_message_bytes);
    finish(correlation, Reply{std::nullopt, Error::Kind::INVALID, why});
    return;
  }
  if (!send_request(stored)) {
    finish(correlation, Reply{std::nullopt, Error::Kind::OVERLOADED,
                              "the bus connection is saturated (send queue full)"});
  }
}

bool Client::send_request(Pending& pending) {
  zmq::message_t frame;
  frame.copy(pending.frame);
  const char kind = kind::request;
  if (!requests_.send(zmq::buffer(&kind, 1), zmq::send_flags::sndmore | zmq::send_flags::dontwait))
    return false;
  requests_.send(zmq::buffer(pending.service), zmq::send_flags::sndmore);
  requests_.send(frame, zmq::send_flags::none);
  return true;
}

void Client::on_request_timer(std::uint64_t correlation) {
  auto it = pending_.find(correlation);
  if (it == pending_.end()) return;
  Pending& pending = it->second;
  if (steady_clock::now() >= pending.deadline || pending.attempts_left <= 0) {
    finish(correlation, Reply{std::nullopt, Error::Kind::UNAVAILABLE,
                              "no answer from '" + pending.service + "' before the deadline"});
    return;
  }
  // Same correlation id and idempotency key: the worker applies it once.
  --pending.attempts_left;
  send_request(pending);
}

void Client::finish(std::uint64_t correlation, Reply reply) {
  auto it = pending_.find(correlation);
  if (it == pending_.end()) return;
  ReplyHandler on_reply = std::move(it->second.on_reply);
  reactor_.cancel(it->second.timer);
  pending_.erase(it);
  try {
    on_reply(std::move(reply));
  } catch (const std::exception& e) {
    ++counters_.handler_failures;
    spdlog::error("reply handler failed: {}", e.what());
  } catch (const kj::Exception& e) {
    ++counters_.rejected_frames;
    spdlog::warn("reply unreadable: {}", e.getDescription().cStr());
  }
}

Reply Client::call(std::string_view service, const Build& body, const RequestOptions& options) {
  std::optional<Reply> result;
  request(service, body, options, [&result](Reply reply) { result = std::move(reply); });
  reactor_.run_until([&] { return result.has_value(); }, options.deadline + milliseconds(200));
  if (!result) {
    return Reply{std::nullopt, Error::Kind::UNAVAILABLE,
                 "no answer from '" + std::string(service) + "' before the deadline"};
  }
  return std::move(*result);
}

void Client::on_request_socket() {
  std::vector<zmq::message_t> frames;
  for (int n = 0; n < 512; ++n) {
    if (!detail::receive_multipart(requests_, frames)) return;
    // [kind][address][envelope]
    if (frames.size() != 3 || frames[0].size() != 1) {
      ++counters_.rejected_frames;
      continue;
    }
    char kind = *static_cast<const char*>(frames[0].data());
    broker_last_seen_ = steady_clock::now();
    switch (kind) {
      case kind::answer:
        handle_answer(std::move(frames[2]));
        break;
      case kind::deliver:
        handle_delivery(std::move(frames[1]), std::move(frames[2]));
        break;
      case kind::control: {
        auto message = Incoming::decode(std::move(frames[2]), options_.limits);
        if (message) {
          handle_control(*message);
        } else {
          ++counters_.rejected_frames;
        }
        break;
      }
      default:
        ++counters_.rejected_frames;
    }
  }
}

void Client::handle_answer(zmq::message_t&& envelope_frame) {
  auto answer = Incoming::decode(std::move(envelope_frame), options_.limits);
  if (!answer) {
    ++counters_.rejected_frames;
    return;
  }
  std::uint64_t correlation = answer->header().getCorrelationId();
  finish(correlation, Reply{std::move(answer), Error::Kind::UNKNOWN, {}});
}

// Serving -------------------------------------------------------------------------------------

void Client::serve(RequestHandler handler) {
  handler_ = std::move(handler);
  broker_last_seen_ = steady_clock::now();
  send_register();
  tick_timer_ = reactor_.every(options_.heartbeat, [this] { tick(); });
}

void Client::send_control(const Build& body) {
  Outgoing out;
  fill_header(out.envelope(), 0);
  body(out.envelope());
  const char kind = kind::control;
  requests_.send(zmq::buffer(&kind, 1), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  requests_.send(zmq::buffer(options_.service), zmq::send_flags::sndmore);
  requests_.send(out.to_frame(), zmq::send_flags::none);
}

void Client::send_register() {
  send_control([&](Envelope::Builder e) {
    auto reg = e.initRegister();
    reg.setService(options_.service);
    reg.setIncarnation(incarnation_);
    reg.setPid(static_cast<std::uint32_t>(getpid()));
  });
  registration_pending_ = true;
}

void Client::tick() {
  send_control([](Envelope::Builder e) { e.initHeartbeat(); });
  // A broker silent for `liveness` beats is gone; its successor learns of us from the
  // register we queue now (ZeroMQ reconnects by itself and delivers it).
  if (steady_clock::now() - broker_last_seen_ > options_.heartbeat * options_.liveness) {
    spdlog::warn("no word from the bus for {} ms; registering again",
                 (options_.heartbeat * options_.liveness).count());
    send_register();
  }
}

void Client::handle_control(const Incoming& message) {
  auto envelope = message.envelope();
  if (!envelope.isHeartbeat()) return;
  auto beat = envelope.getHeartbeat();
  if (beat.getReregister()) {
    spdlog::info("the bus (incarnation {:016x}) does not know us; registering",
                 beat.getBrokerIncarnation());
    send_register();
    return;
  }
  if (registration_pending_) {
    registration_pending_ = false;
    ++counters_.registrations;
    if (on_registered_) on_registered_();
  }
  broker_incarnation_ = beat.getBrokerIncarnation();
}

void Client::handle_delivery(zmq::message_t&& route, zmq::message_t&& envelope_frame) {
  auto request = Incoming::decode(std::move(envelope_frame), options_.limits);
  if (!request || !handler_) {
    ++counters_.rejected_frames;
    return;
  }
  auto header = request->header();
  std::string key = header.getIdempotencyKey();
  Requester to{to_string(route), header.getCorrelationId()};
  if (!key.empty() && answer_from_earlier(to, key, request->which())) return;

  Outgoing out;
  auto reply = out.envelope();
  fill_header(reply, to.correlation);
  // Saved and restored: a handler that runs the reactor (a blocking call) may handle another.
  auto outer =
      std::exchange(handling_, Deferred{.first = to, .body = request->which(), .key = key});
  auto outer_later = std::exchange(handled_later_, 0);
  bool completed = run_handler(*request, reply);
  handling_ = std::move(outer);
  if (std::uint64_t later = std::exchange(handled_later_, outer_later); later != 0) {
    // A handler that failed after taking its Responder answers with that failure now; whatever
    // the Responder sends later finds the request answered.
    if (!completed) answer_deferred(later, [&](Envelope::Builder e) { copy_body(reply, e); });
    return;
  }
  zmq::message_t frame = out.to_frame();
  if (over_limit(frame)) {
    // Not remembered: `failed` is transient, a retry may find a smaller state.
    send_reply(to, too_large_reply(reply, frame.size(), to.correlation));
    return;
  }
  // Transient failures must stay retryable.
  if (!key.empty() && !is_transient_error(reply)) remember_reply(key, request->which(), frame);
  send_reply(to, std::move(frame));
}

bool Client::answer_from_earlier(const Requester& to, const std::string& key,
                                 Envelope::Which body) {
  if (auto cached = replies_by_key_.find(key); cached != replies_by_key_.end()) {
    if (cached->second.body != body) {
      send_reply(to, key_reused(key, to.correlation));
    } else {
      ++counters_.replayed_replies;
      send_reply(to, readdressed(cached->second.reply, to.correlation));
    }
    return true;
  }
  if (auto pending = deferred_by_key_.find(key); pending != deferred_by_key_.end()) {
    Deferred& first = deferred_.at(pending->second);
    if (first.body != body) {
      send_reply(to, key_reused(key, to.correlation));
    } else {
      first.retries.push_back(to);  // answered with the first one
    }
    return true;
  }
  return false;
}

bool Client::run_handler(const Incoming& request, Envelope::Builder reply) {
  try {
    if (!handler_(request, reply)) {
      ++counters_.unimplemented;
      reply.setUnimplemented(request.envelope());
    } else if (reply.isNone() && handled_later_ == 0) {
      set_error(reply, Error::Kind::FAILED, "the service produced no reply (a bug)");
    }
    return true;
  } catch (const std::exception& e) {
    ++counters_.handler_failures;
    spdlog::error("handling {} failed: {}", body_name(request.envelope()), e.what());
    set_error(reply, Error::Kind::FAILED, e.what());
  } catch (const kj::Exception& e) {
    // Cap'n Proto throws when a typed read meets a structure that passed the frame checks
    // but is not what the schema says: the request is malformed.
    ++counters_.rejected_frames;
    spdlog::warn("{} from {} unreadable: {}", body_name(request.envelope()),
                 request.header().getSource().cStr(), e.getDescription().cStr());
    set_error(reply, Error::Kind::INVALID,
              std::string("malformed request: ") + e.getDescription().cStr());
  }
  return false;
}

Responder Client::answer_later() {
  // handling_ is empty outside a handler, and after the first call within one.
  if (!handling_) throw std::logic_error("answer_later() outside a request handler, or twice");
  std::uint64_t id = next_deferred_++;
  if (!handling_->key.empty()) deferred_by_key_[handling_->key] = id;
  deferred_.emplace(id, std::move(*handling_));
  handling_.reset();
  handled_later_ = id;
  ++counters_.answered_later;
  std::weak_ptr<Client*> client = lifeline_;
  return Responder([client, id](const Build& body) {
    // A Client that is gone answered `unavailable` when it went.
    if (auto alive = client.lock()) (*alive)->answer_deferred(id, body);
  });
}

void Client::answer_deferred(std::uint64_t id, const Build& body) {
  auto it = deferred_.find(id);
  if (it == deferred_.end()) return;  // answered already
  Deferred deferred = std::move(it->second);
  deferred_.erase(it);
  if (!deferred.key.empty()) deferred_by_key_.erase(deferred.key);

  Outgoing out;
  auto reply = out.envelope();
  fill_header(reply, deferred.first.correlation);
  try {
    body(reply);
    if (reply.isNone())
      set_error(reply, Error::Kind::FAILED, "the service produced no reply (a bug)");
  } catch (const std::exception& e) {
    ++counters_.handler_failures;
    spdlog::error("answering a request later failed: {}", e.what());
    set_error(reply, Error::Kind::FAILED, e.what());
  } catch (const kj::Exception& e) {
    ++counters_.handler_failures;
    spdlog::error("answering a request later failed: {}", e.getDescription().cStr());
    set_error(reply, Error::Kind::FAILED, e.getDescription().cStr());
  }
  zmq::message_t frame = out.to_frame();
  bool remember = !deferred.key.empty() && !is_transient_error(reply);
  if (over_limit(frame)) {
    frame = too_large_reply(reply, frame.size(), deferred.first.correlation);
    remember = false;  // `failed` is transient
  }
  if (remember) remember_reply(deferred.key, deferred.body, frame);
  if (!deferred.retries.empty()) {
    std::vector<capnp::word> words(frame.size() / sizeof(capnp::word));
    std::memcpy(words.data(), frame.data(), words.size() * sizeof(capnp::word));
    for (const auto& retry : deferred.retries) {
      ++counters_.replayed_replies;
      send_reply(retry, readdressed(words, retry.correlation));
    }
  }
  send_reply(deferred.first, std::move(frame));
}

void Client::send_reply(const Requester& to, zmq::message_t&& frame) {
  const char kind = kind::reply;
  requests_.send(zmq::buffer(&kind, 1), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  requests_.send(zmq::buffer(to.route), zmq::send_flags::sndmore);
  requests_.send(frame, zmq::send_flags::none);
}

zmq::message_t Client::too_large_reply(Envelope::Reader reply, std::size_t bytes,
                                       std::uint64_t correlation) {
  // Sent, it would cost this service its connection to the broker (ZMQ_MAXMSGSIZE) and the
  // requester would only see its deadline pass.
  ++counters_.oversized_messages;
  std::string why = "reply too large (" + std::to_string(bytes) + " bytes)";
  spdlog::error("a {} reply is {} bytes, over the bus's limit of {}: answered failed instead",
                body_name(reply), bytes, options_.limits.max_message_bytes);
  Outgoing out;
  fill_header(out.envelope(), correlation);
  set_error(out.envelope(), Error::Kind::FAILED, why);
  return out.to_frame();
}

zmq::message_t Client::key_reused(const std::string& key, std::uint64_t correlation) {
  // A key names one request; reusing it for another is the caller's bug, not a retry.
  Outgoing out;
  fill_header(out.envelope(), correlation);
  set_error(out.envelope(), Error::Kind::INVALID,
            "idempotency key '" + key + "' was already used for a different request");
  return out.to_frame();
}

zmq::message_t Client::readdressed(const std::vector<capnp::word>& reply,
                                   std::uint64_t correlation) {
  // The same answer, addressed to this attempt's correlation id.
  capnp::FlatArrayMessageReader original(kj::arrayPtr(reply.data(), reply.size()));
  capnp::MallocMessageBuilder copy;
  copy.setRoot(original.getRoot<Envelope>());
  auto readdressed = copy.getRoot<Envelope>();
  readdressed.getHeader().setCorrelationId(correlation);
  readdressed.getHeader().setSequence(++sequence_);
  zmq::message_t frame(capnp::computeSerializedSizeInWords(copy) * sizeof(capnp::word));
  kj::ArrayOutputStream stream(kj::arrayPtr(static_cast<kj::byte*>(frame.data()), frame.size()));
  capnp::writeMessage(stream, copy);
  return frame;
}

void Client::remember_reply(const std::string& key, Envelope::Which body,
                            const zmq::message_t& frame) {
  CachedReply cached{body, std::vector<capnp::word>(frame.size() / sizeof(capnp::word))};
  std::memcpy(cached.reply.data(), frame.data(), cached.reply.size() * sizeof(capnp::word));
  if (replies_by_key_.emplace(key, std::move(cached)).second) reply_order_.push_back(key);
  while (reply_order_.size() > options_.idempotency_cache_entries) {
    replies_by_key_.erase(reply_order_.front());
    reply_order_.pop_front();
  }
}

}  // namespace mp::bus
