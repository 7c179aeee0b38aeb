@0xd024cbea07582372;
# mp-supervisor: starts, watches and restarts services in the embedded setup. Requests go to
# "supervisor"; alarms are published on "supervisor.alarm". Evolve by ordinal only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

enum ServiceState {
  unknown @0;
  starting @1;
  running @2;
  backoff @3;   # crashed; waiting before the next start
  stopped @4;   # stopped by an operator
  failed @5;    # restarted too often; the supervisor gave up and raised an alarm
}

struct ServiceStatus {
  name @0 :Text;
  pid @1 :UInt32;
  incarnation @2 :UInt64;   # from the bus presence of the service; 0 if not yet seen
  state @3 :ServiceState;
  startedAtNs @4 :Int64;
  restarts @5 :UInt32;
  lastExit @6 :Text;
}

struct StatusRequest {}

struct StatusReport {
  services @0 :List(ServiceStatus);
}

struct ServiceControl {
  # Reply: Ack, or error invalid for an unknown service.
  service @0 :Text;
  action @1 :Action;

  enum Action {
    unknown @0;
    start @1;
    stop @2;
    restart @3;
  }
}

struct Alarm {
  service @0 :Text;
  message @1 :Text;
}

struct PowerRequest {
  # Request to "supervisor": restart or shut down the server with the configured command.
  # Reply: Ack once the command started; error failed when none is configured.
  action @0 :Action;

  enum Action {
    unknown @0;
    restart @1;
    shutdown @2;
  }
}
