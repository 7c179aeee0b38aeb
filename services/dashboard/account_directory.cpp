#include "account_directory.h"

#include "capnp_text.h"
#include "station_board.h"

namespace mp::dashboard {

void AccountDirectory::replace(std::map<std::string, Account> accounts) {
  std::lock_guard lock(mutex_);
  accounts_.clear();
  for (auto& [name, account] : accounts) accounts_.emplace(name, std::move(account));
  synced_ = true;
}

void AccountDirectory::set(const std::string& name, Account account) {
  std::lock_guard lock(mutex_);
  accounts_[name] = std::move(account);
}

void AccountDirectory::remove(const std::string& name) {
  std::lock_guard lock(mutex_);
  accounts_.erase(name);
}

std::pair<std::string, Account> AccountDirectory::from_wire(mp::schema::User::Reader user) {
  return {text(user.getName()), Account{role_name(user.getRole()), user.getPasswordChangedAtNs()}};
}

bool AccountDirectory::synced() const {
  std::lock_guard lock(mutex_);
  return synced_;
}

std::optional<Account> AccountDirectory::find(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(name);
  if (it == accounts_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mp::dashboard
