// Checks that the current schemas can still talk to a released copy of them: every node of the
// release is loaded into one capnp::SchemaLoader, then every current node; the loader throws on
// an incompatible replacement of the same id. On top of the loader (which quietly accepts a
// replacement that is *older*), a node that disappeared or lost fields or enumerants counts too:
// schemas evolve by adding, never by deleting.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

namespace mp::test {

struct CompatibilityReport {
  std::vector<std::string> problems;  // one line per offending node, naming it
  std::size_t released_nodes = 0;  // nodes found in the release (files, structs, groups, enums…)
  std::size_t current_nodes = 0;
};

// Parses every *.capnp in `released_dir` and in `current_dir` (two separate parsers; absolute
// imports such as "/capnp/c++.capnp" resolve under `import_dir`). Throws std::runtime_error if a
// schema does not parse.
CompatibilityReport check_schema_compatibility(
    const std::filesystem::path& released_dir, const std::filesystem::path& current_dir,
    const std::filesystem::path& import_dir = "/usr/include");

// Style rule 3: the enumerant with value 0 of every enum is `unknown`. Returns the enums that
// break it, by display name.
std::vector<std::string> enums_without_unknown_zero(
    const std::filesystem::path& schema_dir,
    const std::filesystem::path& import_dir = "/usr/include");

}  // namespace mp::test
