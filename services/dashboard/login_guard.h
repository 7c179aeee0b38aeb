// Keeps the dashboard's logins in step with mp-session's accounts: a login is good only while its
// account exists, still has the role the login was made with (admin or dashboard), and its
// password was not reset after the login. Checked on every request (HTTP threads) and on every
// open event stream's turn; and after every account change (bus thread) the logins it condemns
// end at once, their event streams with them.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "account_directory.h"
#include "event_broadcaster.h"
#include "login_sessions.h"

namespace mp::dashboard {

// Why `login` may no longer be used, or empty. Pure: `account` is the directory's entry for its
// user (nullopt: none), `synced` whether the directory has had a snapshot (before that nothing
// contradicts the login).
std::string why_login_ended(const LoginSession& login, const std::optional<Account>& account,
                            bool synced);

class LoginGuard {
 public:
  LoginGuard(const AccountDirectory& accounts, LoginSessions& sessions, EventBroadcaster& events)
      : accounts_(accounts), sessions_(sessions), events_(events) {}

  // Empty if `login` is still good.
  std::string why_ended(const LoginSession& login) const;
  // Ends `login` (and its event streams) for `why`.
  void end(const LoginSession& login, const std::string& why);
  // After the accounts changed: ends every login they condemn. Returns how many.
  std::size_t sweep();
  const AccountDirectory& accounts() const { return accounts_; }

 private:
  const AccountDirectory& accounts_;
  LoginSessions& sessions_;
  EventBroadcaster& events_;
};

}  // namespace mp::dashboard
