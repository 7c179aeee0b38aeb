@0xeca3f319e3555f25;
# mp-webfilter's requests. Evolve by ordinal only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

struct WebAdmit {
  # Request to "webfilter" from mp-session before any process of a session starts: the Unix
  # user `uid` must be under the web rules (nftables: its web traffic through the proxy,
  # everything else dropped) from now on. Reply: Ack once the rules are in the kernel; error
  # unavailable when this mp-webfilter does not manage nftables (not root, --no-nftables).
  uid @0 :UInt32;
  user @1 :Text;
}
