#include "login_guard.h"

#include <spdlog/spdlog.h>

namespace mp::dashboard {

std::string why_login_ended(const LoginSession& login, const std::optional<Account>& account,
                            bool synced) {
  if (!synced) return "";
  if (!account) return "the account '" + login.user + "' was removed";
  if (account->role != login.role) {
    return "the role of '" + login.user + "' changed from " + login.role + " to " + account->role;
  }
  if (account->role != "admin" && account->role != "dashboard") {
    return "the role " + account->role + " may not use the dashboard";
  }
  if (account->password_changed_at_ns > login.logged_in_at_ns) {
    return "the password of '" + login.user + "' was reset";
  }
  return "";
}

std::string LoginGuard::why_ended(const LoginSession& login) const {
  return why_login_ended(login, accounts_.find(login.user), accounts_.synced());
}

void LoginGuard::end(const LoginSession& login, const std::string& why) {
  if (sessions_.remove(login.id)) {
    spdlog::info("the dashboard login of {} from {} ended: {}", login.user, login.client_address,
                 why);
  }
  events_.close_owner(login.id);
}

std::size_t LoginGuard::sweep() {
  auto ended = sessions_.remove_if([this](const LoginSession& login) { return why_ended(login); });
  for (const auto& [login, why] : ended) {
    spdlog::info("the dashboard login of {} from {} ended: {}", login.user, login.client_address,
                 why);
    events_.close_owner(login.id);
  }
  return ended.size();
}

}  // namespace mp::dashboard
