#include "validation.h"

namespace mp::session {

using mp::service::is_lower_or_digit;
using mp::service::printable_code_points;

std::string check_user_name(std::string_view name) {
  bool ok =
      !name.empty() && name.size() <= 32 && (name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'));
  for (std::size_t i = 1; ok && i < name.size(); ++i) {
    ok = is_lower_or_digit(name[i]) || name[i] == '_' || name[i] == '-';
  }
  if (!ok) return "a user name must match ^[a-z_][a-z0-9_-]{0,31}$";
  return {};
}

std::string check_station_name(std::string_view name) {
  long characters = name.size() > 256 ? -1 : printable_code_points(name);
  if (characters < 1 || characters > 64) {
    return "a station name must be 1 to 64 printable characters";
  }
  if (name.front() == ' ' || name.back() == ' ') {
    return "a station name may not start or end with a space";
  }
  return {};
}

std::string check_transport_name(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (std::size_t i = 0; ok && i < name.size(); ++i) {
    ok = is_lower_or_digit(name[i]) || name[i] == '_' || name[i] == '.' || name[i] == '-';
  }
  if (!ok) return "a transport must be a bus service name: 1 to 64 bytes of a-z 0-9 _ . -";
  return {};
}

std::string check_new_password(std::string_view password) {
  if (password.size() < 8 || password.size() > 1024) {
    return "a password must be 8 to 1024 bytes";
  }
  return {};
}

std::string check_text(std::string_view field, std::string_view text, std::size_t max_bytes) {
  if (text.size() > max_bytes) {
    return std::string(field) + " is longer than " + std::to_string(max_bytes) + " bytes";
  }
  if (printable_code_points(text) < 0) {
    return std::string(field) + " must be UTF-8 without control characters";
  }
  return {};
}

}  // namespace mp::session
