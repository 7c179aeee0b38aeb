// Options every bus socket gets: a size limit on what it will take from a peer, no linger,
// fast reconnects (a restarted broker must see its services back within 2 s).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "mp/bus/frame.h"

namespace mp::bus::detail {

inline void apply_common_options(zmq::socket_t& socket, const Limits& limits) {
  // A frame larger than this makes ZeroMQ drop the connection before we ever see it.
  socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(limits.max_message_bytes + 1024));
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::reconnect_ivl, 100);
  socket.set(zmq::sockopt::reconnect_ivl_max, 500);
}

inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::uint64_t random_incarnation();

// Receives all frames of one message (non-blocking). Returns false if none was waiting.
bool receive_multipart(zmq::socket_t& socket, std::vector<zmq::message_t>& frames);

inline std::string to_string(const zmq::message_t& frame) {
  return std::string(static_cast<const char*>(frame.data()), frame.size());
}

}  // namespace mp::bus::detail
