#include "tunnel.h"

#include <sys/socket.h>

namespace mp::webfilter {

namespace {

// One direction: what `from` sent goes to `to`; once `from` ended and all of it went out, `to`
// is shut for writing. True on progress.
bool pass(Side& from, Side& to) {
  bool progress = false;
  if (!from.in.empty()) {
    std::size_t taken = forward(to, from.in.data(), from.in.size());
    from.in.consume(taken);
    progress = taken > 0;
  }
  if (from.eof && from.in.empty() && to.out.empty() && !to.shut_write && !to.failed) {
    shutdown(to.fd, SHUT_WR);
    to.shut_write = true;
    progress = true;
  }
  return progress;
}

}  // namespace

TunnelStep pump_tunnel(Side& client, Side& upstream) {
  TunnelStep step;
  step.progress = pass(client, upstream);
  step.progress |= pass(upstream, client);
  step.finished = client.failed || upstream.failed || (client.shut_write && upstream.shut_write);
  return step;
}

}  // namespace mp::webfilter
