#include "boundary_check.h"

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace mp::test {
namespace {

namespace fs = std::filesystem;

bool is_cpp_source(const fs::path& path) {
  static const std::set<std::string> extensions = {".h", ".hh", ".hpp", ".hxx", ".ipp",
                                                   ".c", ".cc", ".cpp", ".cxx", ".inc"};
  return extensions.count(path.extension().string()) != 0;
}

bool is_cmake(const fs::path& path) {
  return path.filename() == "CMakeLists.txt" || path.extension() == ".cmake";
}

// "services/x/y.cpp" -> {"services", "x", "y.cpp"}
std::vector<std::string> parts(const fs::path& relative) {
  std::vector<std::string> out;
  for (const auto& p : relative) out.push_back(p.string());
  return out;
}

std::string top(const fs::path& relative) {
  auto p = parts(relative);
  return p.empty() ? std::string() : p[0];
}

// The service folder a repository-relative path lies in ("" if none).
std::string service_of(const fs::path& relative) {
  auto p = parts(relative);
  return p.size() >= 3 && p[0] == "services" ? p[1] : std::string();
}

// "services/Y/..." anywhere in an include or a CMake path names service Y.
std::set<std::string> services_named_in(const std::string& text) {
  static const std::regex named(R"((^|[^A-Za-z0-9_])services/([A-Za-z0-9_.-]+)/?)");
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), named);
       it != std::sregex_iterator(); ++it) {
    std::string name = (*it)[2].str();
    if (name != "*" && name != "." && name != "..") out.insert(name);
  }
  return out;
}

// A relative reference ("../b/b.h") made from a file in `from_dir` (repository-relative), if it
// lands in a service folder: that service.
std::string service_reached(const fs::path& from_dir, const std::string& reference) {
  if (reference.empty() || reference[0] == '/' || reference[0] == '$') return {};
  fs::path landed = (from_dir / reference).lexically_normal();
  auto p = parts(landed);
  if (!p.empty() && p[0] == "..") return {};
  return p.size() >= 2 && p[0] == "services" ? p[1] : std::string();
}

bool is_framing_header(const std::string& header) {
  static const std::regex framing(R"(^(zmq\.h|zmq\.hpp|zmq_addon\.hpp|capnp/serialize.*\.h)$)");
  return std::regex_match(header, framing);
}

std::vector<std::string> read_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool skipped_directory(const fs::path& relative, const fs::path& absolute) {
  std::string name = relative.filename().string();
  if (!name.empty() && name[0] == '.') return true;
  if (relative.has_parent_path() == false && name.rfind("build", 0) == 0) return true;
  return fs::exists(absolute / "CMakeCache.txt");
}

struct Source {
  fs::path relative;
  fs::path absolute;
};

std::vector<Source> collect(const fs::path& root) {
  std::vector<Source> out;
  auto options = fs::directory_options::follow_directory_symlink |
                 fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(root, options);
       it != fs::recursive_directory_iterator(); ++it) {
    fs::path relative = it->path().lexically_relative(root);
    if (it->is_directory()) {
      if (skipped_directory(relative, it->path())) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && (is_cpp_source(it->path()) || is_cmake(it->path()))) {
      out.push_back({relative, it->path()});
    }
  }
  std::sort(out.begin(), out.end(),
            [](const Source& a, const Source& b) { return a.relative < b.relative; });
  return out;
}

std::string where(const Source& source, std::size_t line_index) {
  return source.relative.string() + ":" + std::to_string(line_index + 1);
}

void check_includes(const Source& source, std::vector<std::string>& violations) {
  static const std::regex include(R"(^\s*#\s*include\s*([<"])([^">]+)[">])");
  const std::string own = service_of(source.relative);
  const std::string area = top(source.relative);
  const bool may_frame =
      area == "tests" || area == "bench" || source.relative.string().rfind("lib/bus/", 0) == 0;
  auto lines = read_lines(source.absolute);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    if (!std::regex_search(lines[i], m, include)) continue;
    const std::string header = m[2].str();
    const std::string shown = m[1].str() == "<" ? "<" + header + ">" : "\"" + header + "\"";

    std::set<std::string> reached = services_named_in(header);
    if (m[1].str() == "\"") {
      auto relative_target = service_reached(source.relative.parent_path(), header);
      if (!relative_target.empty()) reached.insert(relative_target);
    }
    for (const auto& other : reached) {
      if (!own.empty() && other != own) {
        violations.push_back(where(source, i) + ": includes " + shown + " of services/" + other +
                             ": a service may not include another service's headers");
      } else if (own.empty() && area != "tests") {
        violations.push_back(where(source, i) + ": includes " + shown + " of services/" + other +
                             ": only a service itself and tests/ may include its headers");
      }
    }
    if (!may_frame && is_framing_header(header)) {
      violations.push_back(where(source, i) + ": includes " + shown +
                           ": only lib/bus touches ZeroMQ and Cap'n Proto framing");
    }
  }
}

// CMake: include directories or sources taken from another service folder.
void check_cmake_paths(const Source& source, std::vector<std::string>& violations) {
  const std::string own = service_of(source.relative);
  if (own.empty()) return;
  static const std::regex relative_path(R"((^|[\s"(])((\.\./)+[A-Za-z0-9_.-]+))");
  auto lines = read_lines(source.absolute);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string code = lines[i].substr(0, lines[i].find('#'));
    std::set<std::string> reached = services_named_in(code);
    for (auto it = std::sregex_iterator(code.begin(), code.end(), relative_path);
         it != std::sregex_iterator(); ++it) {
      auto other = service_reached(source.relative.parent_path(), (*it)[2].str());
      if (!other.empty()) reached.insert(other);
    }
    for (const auto& other : reached) {
      if (other != own) {
        violations.push_back(where(source, i) + ": refers to services/" + other +
                             ": a service may not build with another service's files");
      }
    }
  }
}

// CMake: a service linking a library that another service's folder defines.
void check_cmake_links(const std::vector<Source>& sources, std::vector<std::string>& violations) {
  static const std::regex defines(R"(add_library\s*\(\s*([A-Za-z0-9_.:-]+))");
  static const std::regex links(R"(target_link_libraries\s*\(([^)]*)\))");
  std::map<std::string, std::string> library_owner;  // target -> service
  std::map<std::string, std::string> text_of;        // relative path -> whole file
  for (const auto& source : sources) {
    if (!is_cmake(source.relative) || service_of(source.relative).empty()) continue;
    std::ostringstream text;
    for (const auto& line : read_lines(source.absolute)) {
      text << line.substr(0, line.find('#')) << '\n';
    }
    text_of[source.relative.string()] = text.str();
    const std::string& whole = text_of[source.relative.string()];
    for (auto it = std::sregex_iterator(whole.begin(), whole.end(), defines);
         it != std::sregex_iterator(); ++it) {
      library_owner[(*it)[1].str()] = service_of(source.relative);
    }
  }
  static const std::regex word(R"([A-Za-z0-9_.:-]+)");
  for (const auto& [relative, whole] : text_of) {
    const std::string own = service_of(relative);
    for (auto it = std::sregex_iterator(whole.begin(), whole.end(), links);
         it != std::sregex_iterator(); ++it) {
      const std::string arguments = (*it)[1].str();
      for (auto w = std::sregex_iterator(arguments.begin(), arguments.end(), word);
           w != std::sregex_iterator(); ++w) {
        auto owner = library_owner.find(w->str());
        if (owner != library_owner.end() && owner->second != own) {
          violations.push_back(relative + ": links " + w->str() + " of services/" + owner->second +
                               ": services link lib/bus and the schemas, never each other");
        }
      }
    }
  }
}

}  // namespace

std::vector<std::string> find_boundary_violations(const fs::path& source_root) {
  std::vector<std::string> violations;
  auto sources = collect(source_root);
  for (const auto& source : sources) {
    if (is_cpp_source(source.relative)) {
      check_includes(source, violations);
    } else {
      check_cmake_paths(source, violations);
    }
  }
  check_cmake_links(sources, violations);
  return violations;
}

}  // namespace mp::test
