#include "schema_compatibility.h"

#include <capnp/schema-loader.h>
#include <capnp/schema-parser.h>
#include <capnp/schema.h>
#include <kj/exception.h>
#include <kj/filesystem.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>

namespace mp::test {
namespace {

std::string hex_id(std::uint64_t id) {
  char text[24];
  std::snprintf(text, sizeof(text), "@0x%016" PRIx64, id);
  return text;
}

std::string describe(const kj::Exception& e) {
  std::string text = e.getDescription().cStr();
  // The loader says which field it was comparing in the exception's context.
  const kj::Exception::Context* context = nullptr;
  KJ_IF_MAYBE (first, e.getContext()) {
    context = first;
  }
  while (context != nullptr) {
    // The node is named already; the field being compared is worth keeping.
    if (!context->description.startsWith("checking compatibility")) {
      text += "; ";
      text += context->description.cStr();
    }
    const kj::Exception::Context* next = nullptr;
    KJ_IF_MAYBE (own, context->next) {
      next = own->get();
    }
    context = next;
  }
  return text;
}

// Every node of every schema file in one directory, parsed by its own SchemaParser. The parser
// owns the nodes, so a tree lives as long as the Schemas taken from it are used.
class SchemaTree {
 public:
  SchemaTree(const std::filesystem::path& dir, const std::filesystem::path& import_dir)
      : filesystem_(kj::newDiskFilesystem()),
        dir_(open(dir)),
        import_dir_(open(import_dir)),
        import_path_{import_dir_.get()} {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_regular_file() && entry.path().extension() == ".capnp") {
        files.push_back(entry.path().filename());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      try {
        walk(parser_.parseFromDirectory(*dir_, kj::Path::parse(file.string()),
                                        kj::arrayPtr(import_path_, 1)));
      } catch (const kj::Exception& e) {
        // Parse errors carry the offending schema file and line as the exception's location.
        throw std::runtime_error("cannot parse " + (dir / file).string() + ": " + e.getFile() +
                                 ":" + std::to_string(e.getLine()) + ": " + describe(e));
      }
    }
  }

  const std::map<std::uint64_t, capnp::Schema>& nodes() const { return nodes_; }

 private:
  kj::Own<const kj::ReadableDirectory> open(const std::filesystem::path& path) {
    return filesystem_->getRoot().openSubdir(
        filesystem_->getCurrentPath().eval(std::filesystem::absolute(path).string()));
  }

  void walk(capnp::ParsedSchema schema) {
    add(schema);
    for (auto nested : schema.getAllNested()) walk(nested);
  }

  // Groups (and named unions) are nodes of their own, reachable only through their field.
  void add(capnp::Schema schema) {
    auto proto = schema.getProto();
    if (!nodes_.emplace(proto.getId(), schema).second) return;
    if (proto.isStruct()) {
      for (auto field : schema.asStruct().getFields()) {
        if (field.getProto().isGroup()) add(field.getType().asStruct());
      }
    }
  }

  kj::Own<kj::Filesystem> filesystem_;
  kj::Own<const kj::ReadableDirectory> dir_;
  kj::Own<const kj::ReadableDirectory> import_dir_;
  const kj::ReadableDirectory* import_path_[1];
  capnp::SchemaParser parser_;
  std::map<std::uint64_t, capnp::Schema> nodes_;
};

std::string name_of(capnp::schema::Node::Reader node) {
  return std::string(node.getDisplayName().cStr()) + " (" + hex_id(node.getId()) + ")";
}

// What the loader lets through: a replacement that is older, i.e. lost members at the end.
void check_nothing_deleted(capnp::schema::Node::Reader released,
                           capnp::schema::Node::Reader current,
                           std::vector<std::string>& problems) {
  if (released.which() != current.which()) return;  // the loader already said so
  if (released.isStruct()) {
    auto before = released.getStruct().getFields();
    auto after = current.getStruct().getFields();
    for (auto i = after.size(); i < before.size(); ++i) {
      problems.push_back(name_of(current) + ": field '" + before[i].getName().cStr() +
                         "' was deleted (rename it to obsoleteX instead)");
    }
  } else if (released.isEnum()) {
    auto before = released.getEnum().getEnumerants();
    auto after = current.getEnum().getEnumerants();
    for (auto i = after.size(); i < before.size(); ++i) {
      problems.push_back(name_of(current) + ": enumerant '" + before[i].getName().cStr() +
                         "' was deleted (rename it to obsoleteX instead)");
    }
  }
}

}  // namespace

CompatibilityReport check_schema_compatibility(const std::filesystem::path& released_dir,
                                               const std::filesystem::path& current_dir,
                                               const std::filesystem::path& import_dir) {
  SchemaTree released(released_dir, import_dir);
  SchemaTree current(current_dir, import_dir);
  CompatibilityReport report;
  report.released_nodes = released.nodes().size();
  report.current_nodes = current.nodes().size();

  capnp::SchemaLoader loader;
  for (const auto& [id, schema] : released.nodes()) {
    try {
      loader.load(schema.getProto());
    } catch (const kj::Exception& e) {
      report.problems.push_back("released " + name_of(schema.getProto()) +
                                " does not load: " + describe(e));
    }
  }
  for (const auto& [id, schema] : current.nodes()) {
    try {
      loader.load(schema.getProto());
    } catch (const kj::Exception& e) {
      report.problems.push_back(name_of(schema.getProto()) +
                                " is incompatible with the release: " + describe(e));
    }
  }
  for (const auto& [id, schema] : released.nodes()) {
    auto found = current.nodes().find(id);
    if (found == current.nodes().end()) {
      report.problems.push_back(
          name_of(schema.getProto()) +
          " is gone: deleted, or its id changed (a renamed struct or enum needs its old id "
          "written out)");
      continue;
    }
    check_nothing_deleted(schema.getProto(), found->second.getProto(), report.problems);
  }
  return report;
}

std::vector<std::string> enums_without_unknown_zero(const std::filesystem::path& schema_dir,
                                                    const std::filesystem::path& import_dir) {
  SchemaTree tree(schema_dir, import_dir);
  std::vector<std::string> offenders;
  for (const auto& [id, schema] : tree.nodes()) {
    auto proto = schema.getProto();
    if (!proto.isEnum()) continue;
    auto enumerants = proto.getEnum().getEnumerants();  // in ordinal order
    if (enumerants.size() == 0 || enumerants[0].getName() != "unknown") {
      offenders.push_back(name_of(proto));
    }
  }
  return offenders;
}

}  // namespace mp::test
