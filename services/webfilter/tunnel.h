// Tunnelling: after CONNECT (or an accepted TLS ClientHello on the transparent listener) bytes
// pass untouched both ways, and each direction's end (half-close) passes on its own.
#pragma once

#include "socket_side.h"

namespace mp::webfilter {

struct TunnelStep {
  bool progress = false;  // bytes moved or a direction ended
  bool finished = false;  // both directions ended, or a side failed: close both
};

// Moves what `client` and `upstream` hold to the other side and passes on half-closes.
TunnelStep pump_tunnel(Side& client, Side& upstream);

}  // namespace mp::webfilter
