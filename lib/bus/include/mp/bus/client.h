// A service's connection to the bus: publish/subscribe by topic prefix, request/serve by
// service name, heartbeats, re-registration after the broker restarts, presence.
// Everything runs on the Reactor's thread; no method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <zmq.hpp>

#include "mp/bus/endpoints.h"
#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"
#include "mp/bus/responder.h"

namespace mp::bus {

// Frames on the request socket are [kind][address][envelope]. Kinds:
namespace kind {
inline constexpr char request = 'Q';  // client -> broker, address = service name
inline constexpr char answer = 'A';   // broker -> client, address = service name
inline constexpr char control = 'C';  // worker <-> broker (register, heartbeat, unregister)
inline constexpr char deliver = 'D';  // broker -> worker, address = opaque client route
inline constexpr char reply = 'R';    // worker -> broker, address = the route it was given
}  // namespace kind

// The outcome of a request: the reply envelope, or a local error (deadline passed, bus gone).
struct Reply {
  std::optional<Incoming> message;
  mp::schema::Error::Kind local_error = mp::schema::Error::Kind::UNKNOWN;
  std::string local_error_text;

  bool ok() const { return message && !message->is_error(); }
  mp::schema::Error::Kind error_kind() const;
  std::string error_text() const;
  mp::schema::Envelope::Reader envelope() const { return message->envelope(); }
};

struct ClientOptions {
  std::string service;        // this process's bus name ("session", "mpctl", ...)
  std::string operator_name;  // header.operator of everything sent: the person acting (mpctl)
  Limits limits;
  std::chrono::milliseconds heartbeat{1000};
  int liveness = 3;  // beats missed before the peer counts as dead
  std::size_t idempotency_cache_entries = 10000;
};

struct RequestOptions {
  std::chrono::milliseconds deadline{2000};
  std::string idempotency_key;  // set on every mutating request
  int attempts = 1;             // sends within the deadline; >1 only with an idempotency key
};

struct ClientCounters {
  std::uint64_t rejected_frames = 0;   // undecodable frames received
  std::uint64_t handler_failures = 0;  // exceptions caught in the dispatch loop
  std::uint64_t unimplemented = 0;     // requests whose body this service does not serve
  std::uint64_t replayed_replies = 0;  // idempotent retries answered from the cache
  std::uint64_t registrations = 0;     // times this worker (re)registered with a broker
  std::uint64_t answered_later = 0;    // requests answered through a Responder
  // Replies, events and requests over limits.max_message_bytes: never sent (a frame over the
  // limit costs the sender its connection); a reply is replaced by `failed` "reply too large".
  std::uint64_t oversized_messages = 0;
};

class Client {
 public:
  using EventHandler = std::function<void(std::string_view topic, const Incoming& event)>;
  using ReplyHandler = std::function<void(Reply)>;
  // Fill `reply` and return true; return false for a body this service does not serve (the
  // client answers `unimplemented`, echoing the request). Leaving the reply `none` is answered
  // as `failed`. Throwing answers `failed` with the exception's text; the loop goes on.
  // Requests with an idempotency key whose reply is still cached are answered without a call.
  // A handler that cannot answer at once calls answer_later() and returns true.
  using RequestHandler =
      std::function<bool(const Incoming& request, mp::schema::Envelope::Builder reply)>;

  Client(zmq::context_t& context, Reactor& reactor, Endpoints endpoints, ClientOptions options);
  ~Client();  // a serving client says unregister, so presence goes down at once
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const std::string& service() const { return options_.service; }
  std::uint64_t incarnation() const { return incarnation_; }
  const ClientCounters& counters() const { return counters_; }
  Reactor& reactor() { return reactor_; }
  const Limits& limits() const { return options_.limits; }

  // Events -----------------------------------------------------------------------------------
  void publish(std::string_view topic, const Build& body, std::uint64_t state_version = 0);
  // Every handler whose prefix matches the topic is called. Subscribing is immediate locally,
  // but the broker learns of it asynchronously: events published right after may be missed.
  void subscribe(const std::string& prefix, EventHandler handler);

  // Requests ---------------------------------------------------------------------------------
  void request(std::string_view service, const Build& body, const RequestOptions& options,
               ReplyHandler on_reply);
  // Blocking: runs the reactor until the reply comes or the deadline passes.
  Reply call(std::string_view service, const Build& body, const RequestOptions& options = {});

  // Serving ----------------------------------------------------------------------------------
  // Registers as a worker of options.service; re-registers by itself after a broker restart.
  void serve(RequestHandler handler);
  // Called after every (re)registration, e.g. to resend state the broker's peers may have missed.
  void on_registered(std::function<void()> callback) { on_registered_ = std::move(callback); }
  // Only from inside the RequestHandler: the request being handled is answered later, through
  // the Responder (what the handler left in `reply` is not sent). A retry with the same
  // idempotency key that arrives meanwhile is not handled again: it gets the same answer when
  // the first one is answered. Requests still unanswered when the Client is destroyed are
  // answered `unavailable`. Throws std::logic_error outside a handler, or called twice.
  Responder answer_later();

 private:
  struct Pending {
    ReplyHandler on_reply;
    std::chrono::steady_clock::time_point deadline;
    std::string service;
    zmq::message_t frame;  // kept for resends
    int attempts_left = 0;
    Reactor::TimerId timer = 0;
  };
  void fill_header(mp::schema::Envelope::Builder envelope, std::uint64_t correlation_id);
  void on_request_socket();
  void on_event_socket();
  bool send_request(Pending& pending);
  void on_request_timer(std::uint64_t correlation);
  void finish(std::uint64_t correlation, Reply reply);
  void handle_answer(zmq::message_t&& envelope_frame);
  void handle_control(const Incoming& message);
  // Where one request's reply goes: the broker's route to the requester and its correlation id.
  struct Requester {
    std::string route;
    std::uint64_t correlation = 0;
  };
  // A request whose answer comes later, and the retries (same idempotency key) waiting for it.
  struct Deferred {
    Requester first;
    mp::schema::Envelope::Which body;
    std::string key;
    std::vector<Requester> retries;
  };
  void handle_delivery(zmq::message_t&& route, zmq::message_t&& envelope_frame);
  // Whether a request with `key` was answered already or is being answered; if so, answers it.
  bool answer_from_earlier(const Requester& to, const std::string& key,
                           mp::schema::Envelope::Which body);
  // Runs the handler into `reply`; false if it threw (`reply` then holds the error).
  bool run_handler(const Incoming& request, mp::schema::Envelope::Builder reply);
  void answer_deferred(std::uint64_t id, const Build& body);
  void send_reply(const Requester& to, zmq::message_t&& frame);
  bool over_limit(const zmq::message_t& frame) const {
    return frame.size() > options_.limits.max_message_bytes;
  }
  // What is sent instead of a reply over the limit: error `failed` "reply too large (N bytes)".
  zmq::message_t too_large_reply(mp::schema::Envelope::Reader reply, std::size_t bytes,
                                 std::uint64_t correlation);
  zmq::message_t key_reused(const std::string& key, std::uint64_t correlation);
  // A serialised reply sent again to another correlation id.
  zmq::message_t readdressed(const std::vector<capnp::word>& reply, std::uint64_t correlation);
  void remember_reply(const std::string& key, mp::schema::Envelope::Which body,
                      const zmq::message_t& frame);
  void send_control(const Build& body);
  void send_register();
  void tick();

  zmq::context_t& context_;
  Reactor& reactor_;
  Endpoints endpoints_;
  ClientOptions options_;
  std::uint64_t incarnation_;
  std::uint64_t sequence_ = 0;
  std::uint64_t next_correlation_ = 1;

  zmq::socket_t requests_;                   // DEALER
  std::optional<zmq::socket_t> publisher_;   // PUB to events-in
  std::optional<zmq::socket_t> subscriber_;  // SUB to events-out, made on first subscribe
  std::vector<std::pair<std::string, EventHandler>> subscriptions_;

  std::map<std::uint64_t, Pending> pending_;
  RequestHandler handler_;
  std::function<void()> on_registered_;
  std::chrono::steady_clock::time_point broker_last_seen_;
  std::uint64_t broker_incarnation_ = 0;
  bool registration_pending_ = false;
  Reactor::TimerId tick_timer_ = 0;

  // Idempotent replies: key -> the request's body kind and the serialised reply.
  struct CachedReply {
    mp::schema::Envelope::Which body;
    std::vector<capnp::word> reply;
  };
  std::map<std::string, CachedReply> replies_by_key_;  // oldest first in reply_order_
  std::list<std::string> reply_order_;

  // Requests answered later, by an id of their own; those with a key also by key.
  std::map<std::uint64_t, Deferred> deferred_;
  std::map<std::string, std::uint64_t> deferred_by_key_;
  std::uint64_t next_deferred_ = 1;
  std::optional<Deferred> handling_;  // the request whose handler runs now
  std::uint64_t handled_later_ = 0;   // set by answer_later() while the handler runs
  // Responders reach the Client through this; it expires with the Client.
  std::shared_ptr<Client*> lifeline_ = std::make_shared<Client*>(this);

  ClientCounters counters_;
};

}  // namespace mp::bus
