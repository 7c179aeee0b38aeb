// Which local processes may connect to a ChannelServer, decided before anything they send is
// read: a ZeroMQ ZAP handler for the ipc:// servers of one context that ask for it (a
// non-empty ChannelOptions::gate_domain). Over ipc, libzmq tells ZAP the peer's uid, gid and pid
// (SO_PEERCRED), which the peer cannot forge. mp-session uses it so that only the mp-agent it
// started may talk on a session's agent channel: another program of the session's user that
// connects is refused at once, and holds nothing open in mp-session.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mp/bus/channel.h"
#include "mp/bus/reactor.h"

namespace mp::bus {

struct IpcPeer {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
};

// libzmq's ipc peer address, "localhost:UID:GID:PID"; nullopt for anything else.
std::optional<IpcPeer> parse_ipc_peer(std::string_view address);

struct PeerGateCounters {
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
};

class PeerGate {
 public:
  // `domain` is the ChannelOptions::gate_domain of the server being connected to.
  using Decide = std::function<bool(const std::string& domain, const IpcPeer& peer)>;

  // Binds the context's ZAP endpoint (there is one per context: make one PeerGate per context,
  // before the servers that name a gate domain). Throws std::runtime_error if it cannot.
  PeerGate(Context& context, Reactor& reactor, Decide decide);
  ~PeerGate();
  PeerGate(const PeerGate&) = delete;
  PeerGate& operator=(const PeerGate&) = delete;

  const PeerGateCounters& counters() const { return counters_; }

 private:
  void answer_waiting();

  Reactor& reactor_;
  Decide decide_;
  zmq::socket_t socket_;
  PeerGateCounters counters_;
};

}  // namespace mp::bus
