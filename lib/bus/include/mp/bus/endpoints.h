// Where the broker's sockets live, and where a service keeps its state.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mp::bus {

struct Endpoints {
  std::string events_in;   // XSUB: publishers connect here
  std::string events_out;  // XPUB: subscribers connect here
  std::string requests;    // ROUTER: clients and workers connect here
  std::string tap;         // PUB: a copy of every event, request and reply

  // ipc://DIR/events-in, ... (mp-bus makes the directory mode 0700, or root:mpoint 0750 as
  // root when the group exists).
  static Endpoints in_directory(const std::filesystem::path& dir);
  // The socket files of the ipc endpoints a service connects to (events in and out, requests;
  // not the tap): what a service must be able to write to reach the bus.
  std::vector<std::filesystem::path> service_socket_files() const;
  // inproc://NAME-events-in, ... (in-process test bus; shares one zmq context).
  static Endpoints in_process(const std::string& name);
};

// MP_RUNTIME_DIR if set; /run/multipoint as root; else $XDG_RUNTIME_DIR/multipoint;
// else /tmp/multipoint-UID.
std::filesystem::path default_runtime_dir();
// MP_STATE_DIR if set; /var/lib/multipoint as root; else ./var.
std::filesystem::path default_state_dir();

}  // namespace mp::bus
