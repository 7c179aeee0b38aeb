// Services talk only through the bus: no service includes, compiles or links another's code,
// and only lib/bus touches ZeroMQ and Cap'n Proto framing. Checked on the real tree, and on
// fake trees to prove the check can fail.
#include "boundary_check.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(Boundary, RepositoryKeepsServicesApartAndFramingInLibBus) {
  EXPECT_THAT(find_boundary_violations(source_dir()), IsEmpty());
}

class FakeTree : public ::testing::Test {
 protected:
  void SetUp() override {
    // A tree that keeps every rule.
    write("services/a/a.h", "#pragma once\n#include \"mp/bus/client.h\"\n");
    write("services/a/main.cpp", "#include \"a.h\"\n#include <capnp/message.h>\n");
    write("services/a/agent/agent.cpp", "#include \"../a.h\"\n#include \"agent.h\"\n");
    write("services/a/CMakeLists.txt",
          "add_library(a_core a.cpp)\n"
          "target_include_directories(a_core PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})\n"
          "add_executable(mp-a main.cpp)\ntarget_link_libraries(mp-a PRIVATE a_core mp_bus)\n");
    write("services/b/b.h", "#pragma once\n");
    write("services/b/CMakeLists.txt",
          "add_executable(mp-b main.cpp)\ntarget_link_libraries(mp-b PRIVATE mp_bus)\n");
    write("lib/bus/src/client.cpp",
          "#include <zmq.hpp>\n#include <zmq.h>\n#include <capnp/serialize.h>\n");
    write("tests/a/a_test.cpp", "#include \"services/a/a.h\"\n#include <zmq.hpp>\n");
    write("bench/bus/raw.cpp", "#include <zmq.h>\n#include <capnp/serialize-packed.h>\n");
    write("tools/ctl/main.cpp", "#include \"mp/bus/client.h\"\n// #include <zmq.h> in a comment\n");
    // Build trees are not sources.
    write("build/gen/x.cpp", "#include <zmq.h>\n#include \"../../services/b/b.h\"\n");
  }

  void write(const std::string& relative, const std::string& text) {
    auto path = root.path() / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::app) << text;
  }

  std::vector<std::string> violations() { return find_boundary_violations(root.path()); }

  TempDir root{"mp-boundary"};
};

TEST_F(FakeTree, CleanTreePasses) { EXPECT_THAT(violations(), IsEmpty()); }

TEST_F(FakeTree, RelativeIncludeOfAnotherServiceFails) {
  write("services/a/main.cpp", "#include \"../b/b.h\"\n");
  EXPECT_THAT(violations(), ElementsAre(AllOf(HasSubstr("services/a/main.cpp:3"),
                                              HasSubstr("\"../b/b.h\" of services/b"))));
}

TEST_F(FakeTree, DeepRelativeIncludeOfAnotherServiceFails) {
  write("services/a/agent/agent.cpp", "  #  include \"../../b/b.h\"\n");
  EXPECT_THAT(violations(), ElementsAre(HasSubstr("services/a/agent/agent.cpp:3")));
}

TEST_F(FakeTree, RootedIncludeOfAnotherServiceFails) {
  write("services/a/a.h", "#include <services/b/b.h>\n");
  EXPECT_THAT(violations(), ElementsAre(HasSubstr("<services/b/b.h> of services/b")));
}

TEST_F(FakeTree, IncludePathIntoAnotherServiceFails) {
  write("services/a/CMakeLists.txt",
        "target_include_directories(a_core PRIVATE ${CMAKE_SOURCE_DIR}/services/b)\n");
  write("services/a/agent/CMakeLists.txt", "include_directories(../../b)\n");
  EXPECT_THAT(violations(), ElementsAre(HasSubstr("services/a/CMakeLists.txt:5"),
                                        HasSubstr("services/a/agent/CMakeLists.txt:1")));
}

TEST_F(FakeTree, LinkingAnotherServicesLibraryFails) {
  write("services/b/CMakeLists.txt", "target_link_libraries(mp-b PRIVATE\n  a_core)\n");
  EXPECT_THAT(violations(), ElementsAre(HasSubstr("links a_core of services/a")));
}

TEST_F(FakeTree, ToolIncludingAServiceHeaderFails) {
  write("tools/ctl/main.cpp", "#include \"../../services/a/a.h\"\n");
  EXPECT_THAT(violations(), ElementsAre(HasSubstr("tools/ctl/main.cpp:3")));
}

TEST_F(FakeTree, ZeroMqOutsideLibBusFails) {
  write("services/a/a.h", "#include <zmq.hpp>\n");
  write("tools/ctl/main.cpp", "#include <zmq.h>\n");
  write("lib/other/x.cpp", "#include <zmq_addon.hpp>\n");
  EXPECT_THAT(violations(), SizeIs(3));
  EXPECT_THAT(violations(), Each(HasSubstr("only lib/bus touches ZeroMQ")));
}

TEST_F(FakeTree, CapnpFramingOutsideLibBusFails) {
  write("services/b/main.cpp",
        "#include <capnp/serialize.h>\n#include <capnp/serialize-packed.h>\n");
  EXPECT_THAT(violations(),
              ElementsAre(HasSubstr("services/b/main.cpp:1: includes <capnp/serialize.h>"),
                          HasSubstr("services/b/main.cpp:2")));
}

}  // namespace
}  // namespace mp::test
