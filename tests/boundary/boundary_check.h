// The architecture's two walls, checked on the source tree:
// - a service (services/X) never includes, compiles or links another service's code
//   (services/Y): the schemas are the only contract between them; code outside services/ and
//   tests/ includes no service's headers either;
// - only lib/bus touches ZeroMQ and Cap'n Proto framing: nothing else includes <zmq.h>,
//   <zmq.hpp>, <zmq_addon.hpp> or <capnp/serialize*.h>, except tests/ and bench/ (raw baselines).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mp::test {

// One line per violation: "services/a/x.cpp:3: includes \"../b/b.h\": <which rule>".
// Skips hidden directories, top-level build* directories and any CMake build tree.
std::vector<std::string> find_boundary_violations(const std::filesystem::path& source_root);

}  // namespace mp::test
