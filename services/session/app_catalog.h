// The applications an operator may launch in (or close from) students' sessions, by name: the
// administrator's list (a JSON file) or, without one, the usual programs that are installed.
// Only these run: a dashboard user names an entry, never a command line.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

namespace mp::session {

struct App {
  std::string name;                  // shown to the operator, e.g. "Text editor"
  std::vector<std::string> command;  // argv; argv[0] a path or a program on the system PATH
};

inline constexpr std::size_t kMaxApps = 64;
inline constexpr std::size_t kMaxAppNameBytes = 64;
inline constexpr std::size_t kMaxAppArgs = 16;
inline constexpr std::size_t kMaxAppArgBytes = 1024;
inline constexpr std::size_t kMaxAppFileBytes = 64 * 1024;

class AppCatalog {
 public:
  AppCatalog() = default;
  explicit AppCatalog(std::vector<App> apps) : apps_(std::move(apps)) {}

  // Terminal, text editor, calculator, web browser: whichever of the usual programs exist.
  static AppCatalog installed_defaults();
  // {"apps": [{"name": "Calculator", "command": ["galculator"]}, ...]}; an error text naming
  // what is wrong (unreadable, too large, not that shape, a name twice, limits exceeded).
  static std::variant<AppCatalog, std::string> load(const std::filesystem::path& file);
  static std::variant<AppCatalog, std::string> parse(const std::string& json);

  const std::vector<App>& apps() const { return apps_; }
  const App* find(const std::string& name) const;

 private:
  std::vector<App> apps_;
};

// argv[0] as a path to execute: itself when it has a '/', else found on the system PATH
// (/usr/local/bin, /usr/bin, /bin); empty if there is no such program.
std::string program_path(const std::string& program);

}  // namespace mp::session
