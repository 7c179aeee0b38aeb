#include "socket_options.h"

#include <random>

namespace mp::bus::detail {

std::uint64_t random_incarnation() {
  std::random_device device;
  std::uint64_t value = (std::uint64_t(device()) << 32) ^ device();
  return value == 0 ? 1 : value;
}

bool receive_multipart(zmq::socket_t& socket, std::vector<zmq::message_t>& frames) {
  frames.clear();
  while (true) {
    zmq::message_t frame;
    if (!socket.recv(frame, zmq::recv_flags::dontwait)) return !frames.empty();
    bool more = frame.more();
    frames.push_back(std::move(frame));
    // Bound what one peer can make us hold: no bus message has more than four frames.
    if (frames.size() > 8) {
      while (more) {
        zmq::message_t rest;
        if (!socket.recv(rest, zmq::recv_flags::dontwait)) break;
        more = rest.more();
      }
      return true;
    }
    if (!more) return true;
  }
}

}  // namespace mp::bus::detail
