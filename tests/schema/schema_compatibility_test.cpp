// The current schemas against the last release (schemas/released/), and proof that the checker
// rejects what breaks old peers and accepts what does not.
#include "schema_compatibility.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

std::filesystem::path current_schemas() { return source_dir() / "schemas"; }
std::filesystem::path released_schemas() { return source_dir() / "schemas" / "released"; }

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

// The release and a working copy of it in a temporary directory; a test edits the working copy
// and asks the checker about it. (The release, not today's schemas: it changes only when one is
// cut, so the edits below keep finding their text.)
class SchemaVariant : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(released());
    std::filesystem::create_directories(current());
    for (const auto& entry : std::filesystem::directory_iterator(released_schemas())) {
      if (entry.path().extension() != ".capnp") continue;
      std::filesystem::copy_file(entry.path(), released() / entry.path().filename());
      std::filesystem::copy_file(entry.path(), current() / entry.path().filename());
    }
  }

  std::filesystem::path released() const { return dir / "released"; }
  std::filesystem::path current() const { return dir / "current"; }

  // Replaces the one occurrence of `from` in current/<file>.
  void edit(const std::string& file, const std::string& from, const std::string& to) {
    auto path = current() / file;
    std::string text = read_file(path);
    auto at = text.find(from);
    ASSERT_NE(at, std::string::npos) << "'" << from << "' not in " << file;
    ASSERT_EQ(text.find(from, at + 1), std::string::npos) << "'" << from << "' twice in " << file;
    text.replace(at, from.size(), to);
    write_file(path, text);
  }

  // The text of `declaration`'s block ("struct Header {" ... its closing brace) in current/<file>:
  // where it starts and ends, and the next free ordinal in it.
  struct Block {
    std::size_t open = 0, close = 0;
    int next_ordinal = 0;
  };
  Block find_block(const std::string& file, const std::string& declaration) {
    std::string text = read_file(current() / file);
    Block block;
    block.open = text.find(declaration);
    EXPECT_NE(block.open, std::string::npos) << declaration << " not in " << file;
    if (block.open == std::string::npos) return block;
    int depth = 0;
    for (std::size_t i = block.open; i < text.size(); ++i) {
      if (text[i] == '{') ++depth;
      if (text[i] == '}' && --depth == 0) {
        block.close = i;
        break;
      }
    }
    std::string body = text.substr(block.open, block.close - block.open);
    static const std::regex ordinal(R"(\s@([0-9]+)\s*[:;])");
    for (auto it = std::sregex_iterator(body.begin(), body.end(), ordinal);
         it != std::sregex_iterator(); ++it) {
      block.next_ordinal = std::max(block.next_ordinal, std::stoi((*it)[1].str()) + 1);
    }
    return block;
  }

  // Inserts `line` just before the closing brace of `declaration`'s block.
  void append_to_block(const std::string& file, const std::string& declaration,
                       const std::string& line) {
    auto block = find_block(file, declaration);
    std::string text = read_file(current() / file);
    text.insert(block.close, "  " + line + "\n");
    write_file(current() / file, text);
  }

  // Deletes the member with the highest ordinal from `declaration`'s block; returns its name.
  std::string delete_last_member(const std::string& file, const std::string& declaration) {
    auto block = find_block(file, declaration);
    std::string text = read_file(current() / file);
    std::regex member("\\n\\s*([A-Za-z0-9]+)\\s+@" + std::to_string(block.next_ordinal - 1) +
                      "\\b[^\\n]*");
    std::smatch m;
    std::string body = text.substr(block.open, block.close - block.open);
    if (!std::regex_search(body, m, member)) {
      ADD_FAILURE() << "no member @" << block.next_ordinal - 1 << " in " << declaration;
      return {};
    }
    text.erase(block.open + static_cast<std::size_t>(m.position(0)),
               static_cast<std::size_t>(m.length(0)));
    write_file(current() / file, text);
    return m[1].str();
  }

  std::vector<std::string> problems() {
    return check_schema_compatibility(released(), current()).problems;
  }

  // Some problem names `node` and says `what`.
  void expect_rejected(const std::string& node, const std::string& what) {
    auto found = problems();
    ASSERT_THAT(found, Not(IsEmpty())) << "the checker accepted an incompatible change";
    bool named = false;
    for (const auto& p : found) {
      if (p.find(node) != std::string::npos && p.find(what) != std::string::npos) named = true;
    }
    EXPECT_TRUE(named) << "no problem names " << node << " with '" << what << "'; got:\n"
                       << ::testing::PrintToString(found);
  }

  TempDir dir{"mp-schema"};
};

TEST(SchemaCompatibility, CurrentSchemasAreCompatibleWithTheRelease) {
  auto report = check_schema_compatibility(released_schemas(), current_schemas());
  EXPECT_THAT(report.problems, IsEmpty());
  // Not vacuous: every file, struct and enum of the release was compared.
  EXPECT_GT(report.released_nodes, 60u);
  EXPECT_GE(report.current_nodes, report.released_nodes);
}

TEST(SchemaCompatibility, EveryEnumStartsWithUnknown) {
  EXPECT_THAT(enums_without_unknown_zero(current_schemas()), IsEmpty());
}

TEST_F(SchemaVariant, UnchangedCopyIsAccepted) { EXPECT_THAT(problems(), IsEmpty()); }

TEST_F(SchemaVariant, ChangedFieldTypeIsRejected) {
  // A data field became a pointer: the struct's layout itself no longer matches.
  edit("envelope.capnp", "sequence @2 :UInt64;", "sequence @2 :Text;");
  expect_rejected("envelope.capnp:Header", "incompatible");
}

TEST_F(SchemaVariant, ChangedEnumTypeIsRejected) {
  edit("supervisor.capnp", "action @1 :Action;", "action @1 :ServiceState;");
  expect_rejected("supervisor.capnp:ServiceControl", "type changed enum type");
}

TEST_F(SchemaVariant, WiderIntegerIsRejected) {
  edit("bus.capnp", "pid @3 :UInt32;", "pid @3 :UInt64;");
  expect_rejected("bus.capnp:Presence", "pid");
}

TEST_F(SchemaVariant, OrdinalReusedWithAnotherTypeIsRejected) {
  // idempotencyKey deleted, its ordinal given to a new field of another type.
  edit("envelope.capnp", "idempotencyKey @6 :Text;", "attempts @6 :List(UInt64);");
  expect_rejected("envelope.capnp:Header",
                  "a type was changed; comparing struct field; field.getName() = idempotencyKey");
}

TEST_F(SchemaVariant, BodyOfAnotherTypeIsRejected) {
  edit("envelope.capnp", "ack @4 :Bus.Ack;", "ack @4 :Bus.Presence;");
  expect_rejected("envelope.capnp:Envelope", "incompatible struct type");
}

TEST_F(SchemaVariant, ChangedStructIdIsRejected) {
  edit("bus.capnp", "struct Ack {", "struct Ack @0xc3a5e6f1d2b40789 {");
  expect_rejected("bus.capnp:Ack", "is gone");
  expect_rejected("envelope.capnp:Envelope", "incompatible struct type");
}

TEST_F(SchemaVariant, RenamedStructWithoutItsOldIdIsRejected) {
  // A struct's implicit id comes from its name: renaming it silently makes a new type.
  edit("bus.capnp", "struct Unregister {", "struct Deregister {");
  edit("envelope.capnp", ":Bus.Unregister;", ":Bus.Deregister;");
  expect_rejected("bus.capnp:Unregister", "is gone");
}

TEST_F(SchemaVariant, DeletedLastFieldIsRejected) {
  std::string field = delete_last_member("envelope.capnp", "struct Header {");
  expect_rejected("envelope.capnp:Header", "'" + field + "' was deleted");
}

TEST_F(SchemaVariant, DeletedEnumerantIsRejected) {
  std::string enumerant = delete_last_member("bus.capnp", "enum Kind {");
  expect_rejected("bus.capnp:Error.Kind", "'" + enumerant + "' was deleted");
}

TEST_F(SchemaVariant, StructTurnedIntoEnumIsRejected) {
  edit("bus.capnp", "struct BusStatusRequest {}", "enum BusStatusRequest { unknown @0; }");
  expect_rejected("bus.capnp:BusStatusRequest", "kind of declaration changed");
}

TEST_F(SchemaVariant, NewFieldWithHigherOrdinalIsAccepted) {
  int next = find_block("envelope.capnp", "struct Header {").next_ordinal;
  append_to_block("envelope.capnp", "struct Header {",
                  "traceId @" + std::to_string(next) + " :Text;\n  hops @" +
                      std::to_string(next + 1) + " :UInt8;");
  EXPECT_THAT(problems(), IsEmpty());
}

TEST_F(SchemaVariant, NewBodyNewEnumerantAndNewStructAreAccepted) {
  // The body goes into the Envelope's union: its closing brace comes first inside the struct.
  int next = find_block("envelope.capnp", "struct Envelope {").next_ordinal;
  append_to_block("envelope.capnp", "  union {", "  ping @" + std::to_string(next) + " :Bus.Ping;");
  edit("bus.capnp", "struct Ack {", "struct Ping {\n  nonce @0 :UInt64;\n}\n\nstruct Ack {");
  int enumerant = find_block("bus.capnp", "enum Kind {").next_ordinal;
  append_to_block("bus.capnp", "enum Kind {", "  expired @" + std::to_string(enumerant) + ";");
  EXPECT_THAT(problems(), IsEmpty());
}

TEST_F(SchemaVariant, RenamingEveryFieldToObsoleteIsAccepted) {
  // Every field and enumerant declaration "name @N" becomes "obsoleteName @N".
  const std::regex declaration(R"((^|[\s{;])([a-z][A-Za-z0-9]*)(\s+@[0-9]+\s*[:;]))");
  int renamed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(current())) {
    std::string text = read_file(entry.path());
    std::string out;
    auto end = std::sregex_iterator();
    std::size_t last = 0;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), declaration); it != end; ++it) {
      const auto& m = *it;
      std::string name = m[2].str();
      name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
      out += text.substr(last, m.position(0) - last);
      out += m[1].str() + "obsolete" + name + m[3].str();
      last = m.position(0) + m.length(0);
      ++renamed;
    }
    out += text.substr(last);
    write_file(entry.path(), out);
  }
  ASSERT_GT(renamed, 150);
  EXPECT_THAT(read_file(current() / "envelope.capnp"), HasSubstr("obsoleteSequence @2 :UInt64"));
  EXPECT_THAT(problems(), IsEmpty());
}

TEST_F(SchemaVariant, EnumWithoutUnknownZeroBreaksTheStyleRule) {
  edit("bus.capnp", "    unknown @0;\n    up @1;", "    up @0;\n    unknownState @1;");
  EXPECT_THAT(enums_without_unknown_zero(current()),
              ::testing::ElementsAre(HasSubstr("bus.capnp:Presence.State")));
}

TEST_F(SchemaVariant, UnparsableSchemaThrowsNamingTheFile) {
  edit("policy.capnp", "struct SetBlock {", "struct SetBlock {{");
  try {
    check_schema_compatibility(released(), current());
    FAIL() << "a schema that does not parse was accepted";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("policy.capnp"));
  }
}

}  // namespace
}  // namespace mp::test
