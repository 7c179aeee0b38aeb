// mp-supervisor's logic: start the services in order (the bus first), watch each child through
// a pidfd on the reactor, restart crashes under a RestartPolicy, answer status and operator
// control on the bus as "supervisor", and stop everything in reverse order.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/reactor.h"
#include "restart_policy.h"
#include "supervisor.capnp.h"
#include "supervisor_config.h"

namespace mp::supervisor {

struct SupervisorOptions {
  SupervisorConfig config;  // services with binaries filled in, "bus" first
  std::filesystem::path runtime_dir;
  std::filesystem::path state_dir;
  std::chrono::milliseconds bus_start_timeout{10000};
};

class Supervisor {
 public:
  Supervisor(zmq::context_t& context, mp::bus::Reactor& reactor, SupervisorOptions options);
  ~Supervisor();  // SIGKILLs and reaps any child still running
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Starts the bus, waits for its request socket, joins the bus as "supervisor", then starts the
  // other services in order (each until it registers, exits, or ready_timeout). Returns false if
  // the bus did not come up or the loop was stopped (a signal) meanwhile.
  bool start();
  // Stops every running service in reverse order (SIGTERM, SIGKILL after stop_timeout), the bus
  // last, running the reactor until they are gone. A second stop of the reactor (another
  // signal) kills whatever is left at once.
  void stop_all();
  // Non-zero when the supervisor gave up on something it cannot run without (the bus).
  int exit_code() const { return exit_code_; }

 private:
  struct Service {
    ServiceSpec spec;
    RestartPolicy policy;
    mp::schema::ServiceState state = mp::schema::ServiceState::STOPPED;
    pid_t pid = 0;
    int pidfd = -1;
    std::uint64_t incarnation = 0;
    std::int64_t started_at_ns = 0;
    std::uint32_t restarts = 0;
    std::string last_exit;
    std::string exec_error;          // why exec failed, reported instead of "exited 127"
    bool stop_requested = false;     // an operator (or shutdown) asked it to stop
    bool restart_requested = false;  // start again as soon as it has exited
    mp::bus::Reactor::TimerId restart_timer = 0;
    mp::bus::Reactor::TimerId kill_timer = 0;
  };

  // As root: the system users the services run as (and with them the group mpoint).
  void make_service_users();
  Service* find(std::string_view name);
  Service& bus() { return services_.front(); }
  void start_now(Service& service);
  bool launch(Service& service);
  void on_child_readable(Service& service);
  void on_exit(Service& service, const std::string& how);
  void terminate(Service& service);
  void stop_next();
  void kill_all();
  void give_up(Service& service);
  void join_bus();
  bool handle_request(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);
  void fill_status(mp::schema::StatusReport::Builder report);
  // power_command.cpp: runs the configured restart or shutdown command, detached.
  void power(mp::schema::PowerRequest::Action action, mp::schema::Envelope::Builder reply);
  void control(Service& service, mp::schema::ServiceControl::Action action,
               mp::schema::Envelope::Builder reply);
  void on_presence(const mp::bus::Incoming& event);
  void resync_incarnations();

  zmq::context_t& context_;
  mp::bus::Reactor& reactor_;
  SupervisorOptions options_;
  std::vector<Service> services_;  // in start order; the bus first
  std::unique_ptr<mp::bus::Client> client_;
  mp::bus::Reactor::TimerId resync_timer_ = 0;
  bool resync_in_flight_ = false;
  bool shutting_down_ = false;
  int exit_code_ = 0;
};

// "exited 1", "killed by signal 9" (from a waitpid status).
std::string describe_exit(int status);

}  // namespace mp::supervisor
