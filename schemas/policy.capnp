@0xf49d304b1f0c6ad0;
# mp-policy: the one authority for what stations may do. Desired policy is set per scope (all
# stations, a group, one station) and by schedules; mp-policy computes the effective policy per
# station and publishes it (topic "policy.effective", numbered updates; snapshot topic "policy").
# Requests go to the service "policy". Evolve by ordinal only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

using Bus = import "bus.capnp";

enum WebMode {
  unknown @0;
  off @1;
  allowOnly @2;
  blockOnly @3;
}

struct Scope {
  union {
    all @0 :Void;
    group @1 :Text;
    station @2 :Text;
    newStations @3 :Void;   # stations no administrator admitted yet (between groups and all)
  }
}

struct SetBlock {
  # Reply: Ack. On scope `all`, also clears the block settings of every group and station, so
  # "unblock --all" unblocks everyone.
  scope @0 :Scope;
  blocked @1 :Bool;
  message @2 :Text;
}

enum Setting {
  unknown @0;   # not set at this scope: inherit from the wider one
  on @1;
  off @2;
}

enum WebList {
  unknown @0;
  allow @1;
  block @2;
}

struct SetWebMode {
  # Reply: Ack. mode `unknown` clears the scope's own mode (inherit). On scope `all`, also clears
  # the modes set on groups and stations.
  scope @0 :Scope;
  mode @1 :WebMode;
}

struct EditWebList {
  # Reply: Ack. Domains are normalised by mp-policy (lowercase, no trailing dot, IDNA A-labels,
  # "*.example.com" or "example.com"); one invalid domain refuses the whole request.
  scope @0 :Scope;
  list @1 :WebList;
  add @2 :List(Text);
  remove @3 :List(Text);
  replace @4 :Bool;   # true: the list becomes `add`
}

struct SetUsbLock {
  # Reply: Ack. On scope `all`, also clears the settings of groups and stations.
  scope @0 :Scope;
  locked @1 :Bool;
}

struct Group {
  name @0 :Text;
  stations @1 :List(Text);
}

struct GroupEdit {
  # Reply: Ack. Adds (or removes) stations; removing with an empty `stations` deletes the group.
  name @0 :Text;
  stations @1 :List(Text);
  remove @2 :Bool;
}

struct GroupListRequest {}

struct GroupList {
  groups @0 :List(Group);
}

struct ScheduleAction {
  union {
    block @0 :Text;            # block with this message
    web :group {
      mode @1 :WebMode;
      domains @2 :List(Text);  # the list that applies while the schedule is active
    }
    usbLock @3 :Void;
  }
}

struct Schedule {
  # Active on the given days (bit 0 = Monday ... bit 6 = Sunday) from startMinute to endMinute
  # (minutes after local midnight, end exclusive). While active, its action overrides the same
  # setting at its scope.
  id @0 :UInt64;
  scope @1 :Scope;
  days @2 :UInt8;
  startMinute @3 :UInt16;
  endMinute @4 :UInt16;
  action @5 :ScheduleAction;
  label @6 :Text;
}

struct ScheduleAdd {
  # Reply: the Schedule with its id.
  schedule @0 :Schedule;
}

struct ScheduleRemove {
  id @0 :UInt64;
}

struct ScheduleListRequest {}

struct ScheduleList {
  schedules @0 :List(Schedule);
}

struct ScopePolicy {
  # What is set at one scope (not inherited).
  scope @0 :Scope;
  block @1 :Setting;
  blockMessage @2 :Text;
  webMode @3 :WebMode;       # unknown: inherit
  allowList @4 :List(Text);
  blockList @5 :List(Text);
  usbLock @6 :Setting;
  allowListRef @7 :DomainListRef;   # the whole allowList; in a PolicyReport allowList may be cut
  blockListRef @8 :DomainListRef;
}

struct PolicyShowRequest {
  listLimit @0 :UInt32;   # at most this many domains of each list in the report; 0: 50
}

struct PolicyReport {
  scopes @0 :List(ScopePolicy);
  groups @1 :List(Group);
  schedules @2 :List(Schedule);
  effective @3 :List(EffectivePolicy);
}

struct PolicySnapshot {
  # Reply to Bus.SnapshotRequest for topic "policy": the effective policy of every known
  # station, and of stationKey "" (what applies to anyone who belongs to no station).
  info @0 :Bus.SnapshotResponse;
  effective @1 :List(EffectivePolicy);
}

struct AuditEntry {
  atNs @0 :Int64;
  operator @1 :Text;    # who (header.operator of the request)
  source @2 :Text;      # through which service (mpctl, dashboard)
  action @3 :Text;      # e.g. "block", "web allow", "usb lock", "schedule add"
  detail @4 :Text;
  stations @5 :List(Text);
}

struct AuditRecord {
  # Request to "policy": write an operator action that another service carried out (a message,
  # a log off, take control, an account change) into the audit log, so that every operator
  # action is in one place. Reply: Ack. Who and when come from the header and the clock.
  action @0 :Text;      # e.g. "message", "log off", "take control", "user add"
  detail @1 :Text;
  stations @2 :List(Text);
}

struct AuditQuery {
  limit @0 :UInt32;     # newest first; 0: 100
  sinceNs @1 :Int64;
}

struct AuditLog {
  entries @0 :List(AuditEntry);
}

struct EffectivePolicy {
  # Published on topic "policy.effective" for each station.
  stationKey @0 :Text;
  blocked @1 :Bool;
  blockMessage @2 :Text;
  webMode @3 :WebMode;
  domains @4 :List(Text);   # the allow list in allowOnly mode, the block list in blockOnly mode
  usbStorageLocked @5 :Bool;
  blockSource @6 :Text;     # which setting decided, e.g. "all", "group:lab-a", "schedule 3"
  webSource @7 :Text;
  usbSource @8 :Text;
  domainList @9 :DomainListRef;   # since 0.2: the list, fetched with DomainListFetch;
                                  # `domains` above stays empty so that policies stay small
}

struct DomainListRef {
  # A shared domain list, named by its content: the SHA-256 (hex) of its normalised, sorted
  # domains joined by newlines. The same key always means the same list, so consumers cache
  # lists by key and fetch each one once however many stations use it.
  key @0 :Text;      # empty: no list
  count @1 :UInt32;
}

struct DomainListFetch {
  # Request to "policy". Reply: DomainListPage. Unknown key: error invalid.
  key @0 :Text;
  offset @1 :UInt32;
  limit @2 :UInt32;   # at most 10,000 per page; 0: 10,000
}

struct DomainListPage {
  key @0 :Text;
  total @1 :UInt32;
  offset @2 :UInt32;
  domains @3 :List(Text);
}
