#include "validation.h"

namespace mp::policy {

using mp::service::is_lower_or_digit;
using mp::service::printable_code_points;

std::string check_group_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 32 && is_lower_or_digit(name[0]);
  for (std::size_t i = 1; ok && i < name.size(); ++i) {
    ok = is_lower_or_digit(name[i]) || name[i] == '_' || name[i] == '-';
  }
  if (!ok) return "a group name must match ^[a-z0-9][a-z0-9_-]{0,31}$";
  return {};
}

std::string check_text(std::string_view field, std::string_view text, std::size_t max_characters) {
  // Four bytes per character at most: longer text cannot fit, and is not decoded at all.
  long characters = text.size() > max_characters * 4 ? -2 : printable_code_points(text);
  if (characters == -1) return std::string(field) + " must be UTF-8 without control characters";
  if (characters < 0 || static_cast<std::size_t>(characters) > max_characters) {
    return std::string(field) + " is longer than " + std::to_string(max_characters) + " characters";
  }
  return {};
}

}  // namespace mp::policy
