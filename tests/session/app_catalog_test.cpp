// The administrator's application list: what is accepted, and clear errors for what is not.
#include "app_catalog.h"

#include <gtest/gtest.h>

#include <variant>

namespace mp::session {
namespace {

std::string error_of(const std::string& json) {
  auto parsed = AppCatalog::parse(json);
  auto* error = std::get_if<std::string>(&parsed);
  return error ? *error : "";
}

TEST(AppCatalog, ReadsTheListAndFindsByName) {
  auto parsed = AppCatalog::parse(
      R"({"apps": [{"name": "Editor", "command": ["/usr/bin/xedit", "-fg", "black"]},
                   {"name": "Terminal", "command": ["xterm"]}]})");
  ASSERT_TRUE(std::holds_alternative<AppCatalog>(parsed)) << std::get<std::string>(parsed);
  const auto& catalog = std::get<AppCatalog>(parsed);
  ASSERT_EQ(catalog.apps().size(), 2u);
  ASSERT_NE(catalog.find("Editor"), nullptr);
  EXPECT_EQ(catalog.find("Editor")->command.size(), 3u);
  EXPECT_EQ(catalog.find("editor"), nullptr);
}

TEST(AppCatalog, RefusesWhatIsNotAListOfNamedCommands) {
  EXPECT_NE(error_of("not json").find("not JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"apps": {}})").find("expected"), std::string::npos);
  EXPECT_NE(error_of(R"({"apps": [{"name": "A"}]})").find("application 1"), std::string::npos);
  EXPECT_NE(error_of(R"({"apps": [{"name": "", "command": ["x"]}]})").find("name"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"apps": [{"name": "A", "command": []}]})").find("command"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"apps": [{"name": "A", "command": [1]}]})").find("string"),
            std::string::npos);
  EXPECT_NE(
      error_of(R"({"apps": [{"name": "A", "command": ["x"]}, {"name": "A", "command": ["y"]}]})")
          .find("twice"),
      std::string::npos);
  std::string many = R"({"apps": [)";
  for (std::size_t i = 0; i <= kMaxApps; ++i) {
    many += (i ? "," : "") + std::string(R"({"name": "A)") + std::to_string(i) +
            R"(", "command": ["x"]})";
  }
  EXPECT_NE(error_of(many + "]}").find("more than"), std::string::npos);
}

TEST(AppCatalog, ProgramsAreFoundOnTheSystemPath) {
  EXPECT_EQ(program_path("sh"), "/usr/bin/sh");
  EXPECT_EQ(program_path("/bin/sh"), "/bin/sh");
  EXPECT_EQ(program_path("no-such-program-here"), "");
  EXPECT_EQ(program_path(""), "");
}

}  // namespace
}  // namespace mp::session
