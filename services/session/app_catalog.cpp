#include "app_catalog.h"

#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace mp::session {

std::string program_path(const std::string& program) {
  if (program.empty()) return "";
  if (program.find('/') != std::string::npos) {
    return access(program.c_str(), X_OK) == 0 ? program : "";
  }
  for (const char* dir : {"/usr/local/bin", "/usr/bin", "/bin"}) {
    std::string path = std::string(dir) + "/" + program;
    if (access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

AppCatalog AppCatalog::installed_defaults() {
  // For each entry the first program that is installed.
  const std::vector<std::pair<std::string, std::vector<std::string>>> usual = {
      {"Terminal", {"xfce4-terminal", "lxterminal", "xterm"}},
      {"Text editor", {"mousepad", "leafpad", "gedit", "xedit"}},
      {"Calculator", {"galculator", "gnome-calculator", "xcalc"}},
      {"Web browser", {"firefox-esr", "firefox", "chromium"}},
  };
  std::vector<App> apps;
  for (const auto& [name, programs] : usual) {
    for (const auto& program : programs) {
      if (!program_path(program).empty()) {
        apps.push_back({name, {program}});
        break;
      }
    }
  }
  return AppCatalog(std::move(apps));
}

std::variant<AppCatalog, std::string> AppCatalog::load(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot read " + file.string();
  std::string text(kMaxAppFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxAppFileBytes) {
    return file.string() + " is larger than " + std::to_string(kMaxAppFileBytes) + " bytes";
  }
  auto parsed = parse(text);
  if (auto* error = std::get_if<std::string>(&parsed)) return file.string() + ": " + *error;
  return parsed;
}

std::variant<AppCatalog, std::string> AppCatalog::parse(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return std::string("not JSON");
  if (!json.is_object() || !json.contains("apps") || !json["apps"].is_array()) {
    return std::string("expected {\"apps\": [...]}");
  }
  const auto& list = json["apps"];
  if (list.size() > kMaxApps) return "more than " + std::to_string(kMaxApps) + " applications";
  std::vector<App> apps;
  std::set<std::string> names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const auto& entry = list[i];
    std::string where = "application " + std::to_string(i + 1);
    if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
        !entry.contains("command") || !entry["command"].is_array()) {
      return where + ": expected {\"name\": \"...\", \"command\": [\"program\", ...]}";
    }
    App app;
    app.name = entry["name"].get<std::string>();
    if (app.name.empty() || app.name.size() > kMaxAppNameBytes) {
      return where + ": the name must have 1 to " + std::to_string(kMaxAppNameBytes) + " bytes";
    }
    if (!names.insert(app.name).second) return where + ": '" + app.name + "' is listed twice";
    const auto& command = entry["command"];
    if (command.empty() || command.size() > kMaxAppArgs) {
      return where + ": the command must have 1 to " + std::to_string(kMaxAppArgs) + " words";
    }
    for (const auto& word : command) {
      if (!word.is_string() || word.get<std::string>().size() > kMaxAppArgBytes) {
        return where + ": every word of the command is a string of at most " +
               std::to_string(kMaxAppArgBytes) + " bytes";
      }
      app.command.push_back(word.get<std::string>());
    }
    if (app.command.front().empty()) return where + ": the program is empty";
    apps.push_back(std::move(app));
  }
  return AppCatalog(std::move(apps));
}

const App* AppCatalog::find(const std::string& name) const {
  for (const auto& app : apps_) {
    if (app.name == name) return &app;
  }
  return nullptr;
}

}  // namespace mp::session
