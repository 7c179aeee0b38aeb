#include "mp/bus/broker.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "mp/bus/client.h"
#include "mp/bus/tap.h"
#include "socket_options.h"

namespace mp::bus {

using namespace std::chrono;
using detail::now_ns;
using detail::to_string;
using mp::schema::Envelope;
using mp::schema::Error;

namespace {

constexpr std::size_t kMaxInFlight = 100000;
constexpr std::size_t kEventBatch = 512;

std::string ipc_path(const std::string& endpoint) {
  const std::string scheme = "ipc://";
  return endpoint.rfind(scheme, 0) == 0 ? endpoint.substr(scheme.size()) : std::string();
}

std::string hex(std::uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

}  // namespace

Broker::Broker(zmq::context_t& context, Reactor& reactor, const Endpoints& endpoints,
               BrokerOptions options)
    : reactor_(reactor),
      options_(options),
      incarnation_(detail::random_incarnation()),
      started_at_ns_(now_ns()),
      events_in_(context, zmq::socket_type::xsub),
      events_out_(context, zmq::socket_type::xpub),
      requests_(context, zmq::socket_type::router),
      tap_(context, zmq::socket_type::pub) {
  for (auto* socket : {&events_in_, &events_out_, &requests_, &tap_}) {
    detail::apply_common_options(*socket, options_.limits);
  }
  // Events are bursty (thumbnails, station storms); a deep queue rides them out.
  events_in_.set(zmq::sockopt::rcvhwm, 100000);
  events_out_.set(zmq::sockopt::sndhwm, 100000);
  tap_.set(zmq::sockopt::sndhwm, 100000);
  requests_.set(zmq::sockopt::router_mandatory, false);

  for (const auto& endpoint :
       {endpoints.events_in, endpoints.events_out, endpoints.requests, endpoints.tap}) {
    std::string path = ipc_path(endpoint);
    if (path.empty()) continue;
    auto dir = std::filesystem::path(path).parent_path();
    std::filesystem::create_directories(dir);
    ipc_paths_.push_back(path);
  }
  events_in_.bind(endpoints.events_in);
  events_out_.bind(endpoints.events_out);
  requests_.bind(endpoints.requests);
  tap_.bind(endpoints.tap);
  for (const auto& path : ipc_paths_) {
    if (options_.socket_group) {
      // Connecting to an ipc socket needs write permission on its file.
      if (chown(path.c_str(), static_cast<uid_t>(-1), *options_.socket_group) != 0 ||
          chmod(path.c_str(), 0660) != 0) {
        throw zmq::error_t();  // errno says why; mp-bus reports it and exits
      }
    } else {
      chmod(path.c_str(), 0600);
    }
  }

  // Take every event from every publisher: the tap must see all of them, and subscribers
  // filter at the XPUB side.
  zmq::message_t subscribe_all("\x01", 1);
  events_in_.send(subscribe_all, zmq::send_flags::none);

  reactor_.watch_socket(events_in_, [this] { on_events_in(); });
  reactor_.watch_socket(events_out_, [this] { on_events_out(); });
  reactor_.watch_socket(requests_, [this] { on_requests(); });
  heartbeat_timer_ = reactor_.every(options_.heartbeat, [this] { heartbeat_tick(); });
  spdlog::info("broker {:016x} bound {} {} {} {}", incarnation_, endpoints.events_in,
               endpoints.events_out, endpoints.requests, endpoints.tap);
}

Broker::~Broker() {
  reactor_.cancel(heartbeat_timer_);
  for (auto* socket : {&events_in_, &events_out_, &requests_}) reactor_.unwatch_socket(*socket);
  for (const auto& path : ipc_paths_) ::unlink(path.c_str());
}

void Broker::fill_header(Envelope::Builder envelope, std::uint64_t correlation_id) {
  auto header = envelope.initHeader();
  header.setSource("bus");
  header.setIncarnation(incarnation_);
  header.setSequence(++sequence_);
  header.setCorrelationId(correlation_id);
  header.setSentAtNs(now_ns());
}

// Events --------------------------------------------------------------------------------------

void Broker::on_events_in() {
  std::vector<zmq::message_t> frames;
  for (std::size_t n = 0; n < kEventBatch; ++n) {
    if (!detail::receive_multipart(events_in_, frames)) return;
    if (frames.size() != 2 || frames[0].size() == 0 ||
        frames[0].size() > options_.limits.max_topic_bytes ||
        Incoming::check(frames[1].data(), frames[1].size(), options_.limits) != DecodeError::none) {
      ++counters_.rejected_frames;
      continue;
    }
    ++counters_.forwarded_events;
    zmq::message_t tap_topic, tap_body;
    tap_topic.copy(frames[0]);
    tap_body.copy(frames[1]);
    events_out_.send(frames[0], zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    events_out_.send(frames[1], zmq::send_flags::dontwait);
    tap_.send(tap_topic, zmq::send_flags::sndmore | zmq::send_flags::dontwait);
    tap_.send(tap_body, zmq::send_flags::dontwait);
  }
}

void Broker::on_events_out() {
  // Subscription messages from subscribers: nothing to do (we take everything upstream).
  std::vector<zmq::message_t> frames;
  for (std::size_t n = 0; n < kEventBatch; ++n) {
    if (!detail::receive_multipart(events_out_, frames)) return;
  }
}

void Broker::tap(const std::string& topic, const zmq::message_t& envelope_frame) {
  zmq::message_t body;
  body.copy(const_cast<zmq::message_t&>(envelope_frame));
  tap_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  tap_.send(body, zmq::send_flags::dontwait);
}

void Broker::publish_presence(const Worker& worker, bool up, const std::string& reason) {
  Outgoing out;
  auto envelope = out.envelope();
  fill_header(envelope, 0);
  auto presence = envelope.initPresence();
  presence.setService(worker.service);
  presence.setIncarnation(worker.incarnation);
  presence.setPid(worker.pid);
  presence.setState(up ? mp::schema::Presence::State::UP : mp::schema::Presence::State::DOWN);
  presence.setReason(reason);
  zmq::message_t frame = out.to_frame();
  const std::string topic = "bus.presence";
  tap(topic, frame);
  events_out_.send(zmq::buffer(topic), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  events_out_.send(frame, zmq::send_flags::dontwait);
  spdlog::info("{} {:016x} (pid {}) {}{}", worker.service, worker.incarnation, worker.pid,
               up ? "up" : "down", reason.empty() ? "" : ": " + reason);
}

// Requests ------------------------------------------------------------------------------------

void Broker::on_requests() {
  std::vector<zmq::message_t> frames;
  for (std::size_t n = 0; n < kEventBatch; ++n) {
    if (!detail::receive_multipart(requests_, frames)) return;
    // [route][kind][address][envelope]
    if (frames.size() != 4 || frames[1].size() != 1 || frames[2].size() > 256) {
      ++counters_.rejected_frames;
      continue;
    }
    std::string route = to_string(frames[0]);
    char kind = *static_cast<const char*>(frames[1].data());
    std::string address = to_string(frames[2]);
    try {
      switch (kind) {
        case kind::request:
          on_client_request(route, address, std::move(frames[3]));
          break;
        case kind::reply:
          on_worker_reply(route, address, std::move(frames[3]));
          break;
        case kind::control:
          on_control(route, std::move(frames[3]));
          break;
        default:
          ++counters_.rejected_frames;
      }
    } catch (const std::exception& e) {
      // Only bugs get here: bad input is answered where it is read.
      ++counters_.rejected_frames;
      spdlog::error("request from a client failed: {}", e.what());
    }
  }
}

void Broker::send_to_route(const std::string& route, char kind, const std::string& address,
                           zmq::message_t&& envelope_frame) {
  requests_.send(zmq::buffer(route), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  requests_.send(zmq::buffer(&kind, 1), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  requests_.send(zmq::buffer(address), zmq::send_flags::sndmore | zmq::send_flags::dontwait);
  requests_.send(envelope_frame, zmq::send_flags::dontwait);
}

void Broker::answer_error(const std::string& client, const std::string& service,
                          std::uint64_t correlation_id, Error::Kind kind, const std::string& text) {
  Outgoing out;
  fill_header(out.envelope(), correlation_id);
  set_error(out.envelope(), kind, text);
  zmq::message_t frame = out.to_frame();
  tap("rep." + service, frame);
  send_to_route(client, kind::answer, service, std::move(frame));
}

void Broker::on_client_request(const std::string& client, const std::string& service,
                               zmq::message_t&& envelope_frame) {
  DecodeError error;
  auto request = Incoming::decode(std::move(envelope_frame), options_.limits, &error);
  if (!request) {
    ++counters_.rejected_frames;
    // We cannot know its correlation id; answering with 0 still tells a confused client.
    answer_error(client, service, 0, Error::Kind::INVALID,
                 std::string("undecodable request: ") + to_string(error));
    return;
  }
  auto header = request->header();
  std::uint64_t correlation = header.getCorrelationId();
  if (service == "bus") {
    answer_self(client, *request);
    return;
  }
  auto it = services_.find(service);
  if (it == services_.end() || it->second.empty()) {
    ++counters_.unavailable_answers;
    answer_error(client, service, correlation, Error::Kind::UNAVAILABLE,
                 "no service named '" + service + "' is registered on the bus");
    return;
  }
  if (in_flight_.size() >= kMaxInFlight) {
    answer_error(client, service, correlation, Error::Kind::OVERLOADED,
                 "the bus has too many requests in flight");
    return;
  }
  auto& routes = it->second;
  std::size_t& next = round_robin_[service];
  const std::string worker = routes[next++ % routes.size()];
  auto deadline_ns = header.getDeadlineNs();
  auto left = deadline_ns > 0 ? nanoseconds(deadline_ns - now_ns()) : nanoseconds(seconds(30));
  auto expires = steady_clock::now() + std::clamp<nanoseconds>(left, nanoseconds(0), minutes(5));
  in_flight_[{client, correlation}] = InFlight{client, worker, service, correlation, expires};
  ++workers_[worker].outstanding;
  ++counters_.routed_requests;

  tap("req." + service, tap_frame(*request));  // passwords redacted
  send_to_route(worker, kind::deliver, client, request->to_frame());
}

void Broker::on_worker_reply(const std::string& worker, const std::string& client_route,
                             zmq::message_t&& envelope_frame) {
  auto reply = Incoming::decode(std::move(envelope_frame), options_.limits);
  if (!reply) {
    ++counters_.rejected_frames;
    return;
  }
  auto key = std::make_pair(client_route, reply->header().getCorrelationId());
  auto it = in_flight_.find(key);
  if (it == in_flight_.end() || it->second.worker_route != worker) {
    // Late (the deadline passed, or the worker was declared dead) or forged: drop it.
    return;
  }
  std::string service = it->second.service;
  in_flight_.erase(it);
  if (auto w = workers_.find(worker); w != workers_.end() && w->second.outstanding > 0) {
    --w->second.outstanding;
    w->second.expires = steady_clock::now() + options_.heartbeat * options_.liveness;
  }
  tap("rep." + service, reply->to_frame());
  send_to_route(client_route, kind::answer, service, reply->to_frame());
}

void Broker::on_control(const std::string& route, zmq::message_t&& envelope_frame) {
  auto message = Incoming::decode(std::move(envelope_frame), options_.limits);
  if (!message) {
    ++counters_.rejected_frames;
    return;
  }
  auto envelope = message->envelope();
  switch (envelope.which()) {
    case Envelope::REGISTER: {
      auto reg = envelope.getRegister();
      std::string service = reg.getService();
      if (service.empty() || service.size() > 64 || service == "bus") {
        ++counters_.rejected_frames;
        return;
      }
      auto existing = workers_.find(route);
      if (existing != workers_.end() && existing->second.service != service) {
        remove_worker(route, "re-registered as " + service);
      }
      Worker& worker = workers_[route];
      bool is_new = worker.route.empty() || worker.incarnation != reg.getIncarnation();
      worker.route = route;
      worker.service = service;
      worker.incarnation = reg.getIncarnation();
      worker.pid = reg.getPid();
      worker.expires = steady_clock::now() + options_.heartbeat * options_.liveness;
      if (is_new) {
        // One worker per service: a new incarnation replaces the old one at once, rather than
        // sharing requests with a corpse until its heartbeats run out.
        std::vector<std::string> replaced;
        for (const auto& other : services_[service]) {
          if (other != route) replaced.push_back(other);
        }
        for (const auto& other : replaced) {
          remove_worker(other, "replaced by incarnation " + hex(reg.getIncarnation()));
        }
        worker.registered_at_ns = now_ns();
        auto& routes = services_[service];
        if (std::find(routes.begin(), routes.end(), route) == routes.end()) {
          routes.push_back(route);
        }
        tap("ctl." + service, message->to_frame());
        publish_presence(worker, true, "");
      }
      send_heartbeat(route, false);
      return;
    }
    case Envelope::HEARTBEAT: {
      auto it = workers_.find(route);
      if (it == workers_.end()) {
        // A worker of a broker that is gone: ask it to register with us.
        send_heartbeat(route, true);
        return;
      }
      it->second.expires = steady_clock::now() + options_.heartbeat * options_.liveness;
      return;
    }
    case Envelope::UNREGISTER:
      if (workers_.count(route)) {
        tap("ctl." + workers_[route].service, message->to_frame());
        remove_worker(route, "stopped");
      }
      return;
    default:
      ++counters_.rejected_frames;
      return;
  }
}

void Broker::send_heartbeat(const std::string& route, bool reregister) {
  Outgoing out;
  fill_header(out.envelope(), 0);
  auto beat = out.envelope().initHeartbeat();
  beat.setBrokerIncarnation(incarnation_);
  beat.setReregister(reregister);
  send_to_route(route, kind::control, "", out.to_frame());
}

void Broker::remove_worker(const std::string& route, const std::string& reason) {
  auto it = workers_.find(route);
  if (it == workers_.end()) return;
  Worker worker = it->second;
  workers_.erase(it);
  auto& routes = services_[worker.service];
  std::erase(routes, route);
  if (routes.empty()) services_.erase(worker.service);
  // Whoever waits on this worker learns now rather than at its deadline.
  for (auto f = in_flight_.begin(); f != in_flight_.end();) {
    if (f->second.worker_route == route) {
      InFlight lost = f->second;
      f = in_flight_.erase(f);
      ++counters_.unavailable_answers;
      answer_error(lost.client_route, lost.service, lost.correlation_id, Error::Kind::UNAVAILABLE,
                   "service '" + lost.service + "' went away: " + reason);
    } else {
      ++f;
    }
  }
  publish_presence(worker, false, reason);
}

void Broker::heartbeat_tick() {
  auto now = steady_clock::now();
  std::vector<std::string> dead;
  for (const auto& [route, worker] : workers_) {
    if (worker.expires < now) dead.push_back(route);
  }
  for (const auto& route : dead) remove_worker(route, "missed heartbeats");
  for (const auto& [route, worker] : workers_) send_heartbeat(route, false);
  for (auto f = in_flight_.begin(); f != in_flight_.end();) {
    // The client has given up by now; forget it so the table stays bounded.
    if (f->second.expires < now) {
      if (auto w = workers_.find(f->second.worker_route);
          w != workers_.end() && w->second.outstanding > 0) {
        --w->second.outstanding;
      }
      f = in_flight_.erase(f);
    } else {
      ++f;
    }
  }
}

void Broker::answer_self(const std::string& client, const Incoming& request) {
  Outgoing out;
  auto envelope = out.envelope();
  fill_header(envelope, request.header().getCorrelationId());
  if (request.which() == Envelope::BUS_STATUS_REQUEST) {
    auto status = envelope.initBusStatus();
    status.setIncarnation(incarnation_);
    status.setRejectedFrames(counters_.rejected_frames);
    status.setRoutedRequests(counters_.routed_requests);
    status.setForwardedEvents(counters_.forwarded_events);
    status.setUnavailableAnswers(counters_.unavailable_answers);
    status.setStartedAtNs(started_at_ns_);
    std::map<std::string, std::vector<const Worker*>> by_service;
    for (const auto& [route, worker] : workers_) by_service[worker.service].push_back(&worker);
    auto list = status.initServices(by_service.size());
    std::size_t i = 0;
    for (const auto& [name, workers] : by_service) {
      auto entry = list[i++];
      entry.setName(name);
      entry.setIncarnation(workers.front()->incarnation);
      entry.setPid(workers.front()->pid);
      entry.setRegisteredAtNs(workers.front()->registered_at_ns);
      entry.setWorkers(static_cast<std::uint32_t>(workers.size()));
    }
  } else {
    envelope.setUnimplemented(request.envelope());
  }
  zmq::message_t frame = out.to_frame();
  tap("req.bus", tap_frame(request));
  tap("rep.bus", frame);
  send_to_route(client, kind::answer, "bus", std::move(frame));
}

}  // namespace mp::bus
