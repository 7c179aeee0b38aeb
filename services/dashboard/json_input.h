// Request bodies from browsers are untrusted: every one is parsed here with bounds (nesting
// depth, known fields only, text lengths, station lists) and each refusal says what was wrong,
// so the API can answer 400 with a reason.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mp::dashboard {

struct InputLimits {
  std::size_t max_depth = 4;
  std::size_t max_stations = 512;
  std::size_t max_block_message_chars = 500;  // as mp-policy allows
  std::size_t max_message_chars = 1000;       // mp-session allows 4096 bytes of UTF-8
};

// The deepest nesting of arrays and objects in `text` (strings are skipped properly); a cheap
// pass before a real parse, so a deeply nested body costs nothing to refuse.
std::size_t json_nesting_depth(std::string_view text);

// `body` as a JSON object no deeper than `limits.max_depth` whose keys are all in `allowed`.
std::optional<nlohmann::json> parse_object(std::string_view body,
                                           std::initializer_list<std::string_view> allowed,
                                           const InputLimits& limits, std::string* error);

// Which stations a command is for: "all", or a list of station keys.
struct Selection {
  bool all = false;
  std::vector<std::string> stations;  // valid keys, without duplicates, in the order given
};

// `object[field]` as a Selection: "all", or a non-empty array of at most `max_stations` valid
// station keys. Returns an error text, empty when fine.
std::string read_selection(const nlohmann::json& object, std::string_view field,
                           const InputLimits& limits, Selection* out);

// `object[field]` as printable UTF-8 text (no control characters) of at most `max_chars`
// characters. A missing field is an error only when `required`; it reads as "".
std::string read_text(const nlohmann::json& object, std::string_view field, std::size_t max_chars,
                      bool required, std::string* out);

}  // namespace mp::dashboard
