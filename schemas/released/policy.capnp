@0xf49d304b1f0c6ad0;
# mp-policy: desired policy and the effective policy per station. Enough to start; the policy
# issue grows it by ordinal.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

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
  }
}

struct SetBlock {
  scope @0 :Scope;
  blocked @1 :Bool;
  message @2 :Text;
}

struct EffectivePolicy {
  # Published on topic "policy.effective" for each station.
  stationKey @0 :Text;
  blocked @1 :Bool;
  blockMessage @2 :Text;
  webMode @3 :WebMode;
  domains @4 :List(Text);
  usbStorageLocked @5 :Bool;
}
