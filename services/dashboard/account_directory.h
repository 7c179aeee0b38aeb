// The accounts as mp-session's replica says they are now (name, role, last password reset): what
// every request's login is checked against (LoginGuard). Written on the bus thread by
// BoardFeeds from the "session" snapshot and "session.user" updates; read by HTTP threads.
// Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "session.capnp.h"

namespace mp::dashboard {

struct Account {
  std::string role;  // "admin", "dashboard", "standard"
  std::int64_t password_changed_at_ns = 0;
};

class AccountDirectory {
 public:
  // A whole snapshot's accounts: every account not in it is gone.
  void replace(std::map<std::string, Account> accounts);
  void set(const std::string& name, Account account);
  void remove(const std::string& name);

  // From the schema: set or remove one account (a UserUpdate), or add one of a snapshot's.
  static std::pair<std::string, Account> from_wire(mp::schema::User::Reader user);

  // False until the first snapshot: until then nothing is known that could end a login.
  bool synced() const;
  std::optional<Account> find(std::string_view name) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Account, std::less<>> accounts_;
  bool synced_ = false;
};

}  // namespace mp::dashboard
