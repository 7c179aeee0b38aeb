@0x8fa8387ae997ac04;
# Bodies the bus itself speaks: errors, presence, heartbeats, registration,
# and the common part of state snapshots (zguide Clone). Evolve by ordinal only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

struct Error {
  # A request could not be answered. The kind tells the caller what it can do.
  kind @0 :Kind;
  message @1 :Text;

  enum Kind {
    unknown @0;
    failed @1;        # the service tried and failed; retrying may not help
    overloaded @2;    # try again later
    unavailable @3;   # no worker serves that name, or the deadline passed
    unimplemented @4; # the service does not know this body
    denied @5;        # the caller may not do this
    invalid @6;       # the request is malformed or names something that does not exist
  }
}

struct Ack {
  # A mutating request was applied (or had already been applied under the same key).
  detail @0 :Text;
}

struct Presence {
  # Published by the broker on topic "bus.presence" when a service registers or goes away.
  service @0 :Text;
  incarnation @1 :UInt64;
  state @2 :State;
  pid @3 :UInt32;
  reason @4 :Text;

  enum State {
    unknown @0;
    up @1;
    down @2;
  }
}

struct Register {
  # A worker tells the broker it serves `service`. Sent at start and again after the broker restarts.
  service @0 :Text;
  incarnation @1 :UInt64;
  pid @2 :UInt32;
}

struct Unregister {
  # A worker leaving cleanly (SIGTERM); the broker publishes presence down at once.
  service @0 :Text;
}

struct Heartbeat {
  # Worker <-> broker, every second; three missed beats mean dead.
  # The broker answers a beat from a worker it does not know with `reregister = true`.
  brokerIncarnation @0 :UInt64;
  reregister @1 :Bool;
}

struct SnapshotRequest {
  # Ask an authority for its whole state under `topic` (zguide Clone). Large states come in
  # pages: ask again with the previous page's `nextCursor` until it is empty.
  topic @0 :Text;
  cursor @1 :Text;   # empty: the first page
}

struct SnapshotResponse {
  # The common part of every snapshot: which state, and the version it reflects.
  # Updates with header.stateVersion <= version are already in the snapshot.
  topic @0 :Text;
  version @1 :UInt64;
  nextCursor @2 :Text;   # not empty: more pages follow (each page has its own version; updates
                         # are whole records, so replaying those after the first page's version
                         # over all pages gives the state)
}

struct BusStatusRequest {}

struct BusStatus {
  incarnation @0 :UInt64;
  services @1 :List(ServiceEntry);
  rejectedFrames @2 :UInt64;   # garbage, oversize or truncated frames dropped by the broker
  routedRequests @3 :UInt64;
  forwardedEvents @4 :UInt64;
  unavailableAnswers @5 :UInt64;
  startedAtNs @6 :Int64;

  struct ServiceEntry {
    name @0 :Text;
    incarnation @1 :UInt64;
    pid @2 :UInt32;
    registeredAtNs @3 :Int64;
    workers @4 :UInt32;
  }
}
