// The broker behind mp-bus: event fan-out (XSUB -> XPUB), request routing by service name
// (ROUTER, Majordomo-like), worker heartbeats, presence, and the tap. It keeps no state that
// matters: when it restarts, workers re-register on their next heartbeat.
#pragma once

#include <sys/types.h>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "mp/bus/endpoints.h"
#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"

namespace mp::bus {

struct BrokerOptions {
  Limits limits;
  std::chrono::milliseconds heartbeat{1000};
  int liveness = 3;
  // Set: the ipc socket files get this group and mode 0660, so services running as system users
  // of that group (mpoint) may connect. Unset: mode 0600, the owner only.
  std::optional<gid_t> socket_group;
};

struct BrokerCounters {
  std::uint64_t rejected_frames = 0;
  std::uint64_t routed_requests = 0;
  std::uint64_t forwarded_events = 0;
  std::uint64_t unavailable_answers = 0;
};

class Broker {
 public:
  // Binds every endpoint; throws zmq::error_t if one cannot be bound.
  Broker(zmq::context_t& context, Reactor& reactor, const Endpoints& endpoints,
         BrokerOptions options);
  ~Broker();
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  std::uint64_t incarnation() const { return incarnation_; }
  const BrokerCounters& counters() const { return counters_; }

 private:
  struct Worker {
    std::string route;  // ROUTER identity
    std::string service;
    std::uint64_t incarnation = 0;
    std::uint32_t pid = 0;
    std::int64_t registered_at_ns = 0;
    std::chrono::steady_clock::time_point expires;
    std::uint64_t outstanding = 0;
  };
  struct InFlight {
    std::string client_route;
    std::string worker_route;
    std::string service;
    std::uint64_t correlation_id;
    std::chrono::steady_clock::time_point expires;
  };

  void on_events_in();
  void on_events_out();
  void on_requests();
  void on_client_request(const std::string& client, const std::string& service,
                         zmq::message_t&& envelope_frame);
  void on_worker_reply(const std::string& worker, const std::string& client_route,
                       zmq::message_t&& envelope_frame);
  void on_control(const std::string& route, zmq::message_t&& envelope_frame);
  void answer_self(const std::string& client, const Incoming& request);
  void answer_error(const std::string& client, const std::string& service,
                    std::uint64_t correlation_id, mp::schema::Error::Kind kind,
                    const std::string& text);
  void send_to_route(const std::string& route, char kind, const std::string& address,
                     zmq::message_t&& envelope_frame);
  void tap(const std::string& topic, const zmq::message_t& envelope_frame);
  void publish_presence(const Worker& worker, bool up, const std::string& reason);
  void send_heartbeat(const std::string& route, bool reregister);
  void heartbeat_tick();
  void remove_worker(const std::string& route, const std::string& reason);
  void fill_header(mp::schema::Envelope::Builder envelope, std::uint64_t correlation_id);

  Reactor& reactor_;
  BrokerOptions options_;
  std::uint64_t incarnation_;
  std::uint64_t sequence_ = 0;
  std::int64_t started_at_ns_;
  std::vector<std::string> ipc_paths_;

  zmq::socket_t events_in_;   // XSUB
  zmq::socket_t events_out_;  // XPUB
  zmq::socket_t requests_;    // ROUTER
  zmq::socket_t tap_;         // PUB

  std::map<std::string, Worker> workers_;                     // by route
  std::map<std::string, std::vector<std::string>> services_;  // name -> worker routes
  std::map<std::string, std::size_t> round_robin_;
  std::map<std::pair<std::string, std::uint64_t>, InFlight> in_flight_;  // (client, corr)
  Reactor::TimerId heartbeat_timer_ = 0;
  BrokerCounters counters_;
};

}  // namespace mp::bus
