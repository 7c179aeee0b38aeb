#include "json_input.h"

#include <algorithm>
#include <set>

#include "mp/service/validation.h"

namespace mp::dashboard {

using nlohmann::json;

std::size_t json_nesting_depth(std::string_view text) {
  std::size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::optional<json> parse_object(std::string_view body,
                                 std::initializer_list<std::string_view> allowed,
                                 const InputLimits& limits, std::string* error) {
  if (json_nesting_depth(body) > limits.max_depth) {
    *error = "the JSON body is nested deeper than " + std::to_string(limits.max_depth) + " levels";
    return std::nullopt;
  }
  json value = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    *error = "the body is not valid JSON";
    return std::nullopt;
  }
  if (!value.is_object()) {
    *error = "the body must be a JSON object";
    return std::nullopt;
  }
  for (const auto& item : value.items()) {
    if (std::find(allowed.begin(), allowed.end(), item.key()) == allowed.end()) {
      *error = "unknown field '" + item.key().substr(0, 64) + "'";
      return std::nullopt;
    }
  }
  return value;
}

std::string read_selection(const json& object, std::string_view field, const InputLimits& limits,
                           Selection* out) {
  std::string name(field);
  auto it = object.find(name);
  if (it == object.end()) return "'" + name + "' is required: a list of station keys or \"all\"";
  if (it->is_string()) {
    if (it->get_ref<const std::string&>() != "all") {
      return "'" + name + "' must be a list of station keys or \"all\"";
    }
    out->all = true;
    return {};
  }
  if (!it->is_array()) return "'" + name + "' must be a list of station keys or \"all\"";
  if (it->empty()) return "'" + name + "' names no station";
  if (it->size() > limits.max_stations) {
    return "'" + name + "' names more than " + std::to_string(limits.max_stations) + " stations";
  }
  std::set<std::string> seen;
  for (const auto& entry : *it) {
    if (!entry.is_string()) return "'" + name + "' must hold station keys (strings)";
    const auto& key = entry.get_ref<const std::string&>();
    if (auto e = mp::service::check_station_key(key); !e.empty()) return e;
    if (seen.insert(key).second) out->stations.push_back(key);
  }
  return {};
}

std::string read_text(const json& object, std::string_view field, std::size_t max_chars,
                      bool required, std::string* out) {
  std::string name(field);
  auto it = object.find(name);
  if (it == object.end()) {
    out->clear();
    return required ? "'" + name + "' is required" : std::string();
  }
  if (!it->is_string()) return "'" + name + "' must be a string";
  const auto& text = it->get_ref<const std::string&>();
  // Four bytes per character at most: longer cannot be within the limit.
  long characters = text.size() > max_chars * 4 ? -2 : mp::service::printable_code_points(text);
  if (characters == -1) return "'" + name + "' must be UTF-8 text without control characters";
  if (characters < 0 || static_cast<std::size_t>(characters) > max_chars) {
    return "'" + name + "' is longer than " + std::to_string(max_chars) + " characters";
  }
  if (required && characters == 0) return "'" + name + "' is empty";
  *out = text;
  return {};
}

}  // namespace mp::dashboard
