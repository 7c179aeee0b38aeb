// The users: added (with the Linux account behind them), removed (their sessions end, the
// account is locked), modified (role, password reset), and their passwords checked — for
// `authenticate` and for every logon — throttled per name, client address and requesting
// service, with a decoy verification for names that are no account.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "desktop_starts.h"
#include "desktops.h"
#include "envelope.capnp.h"
#include "mp/service/logon_throttle.h"
#include "mp/service/user_name_redactor.h"
#include "password.h"
#include "session_store.h"
#include "state_journal.h"

namespace mp::session {

class UserRegistry {
 public:
  UserRegistry(SessionStore& store, const PasswordHasher& hasher, Desktops& desktops,
               DesktopStarts& starts, mp::service::LogonThrottle::Options throttle);

  // Requests that change users, each in the mutation the journal runs it in.
  void add(Mutation& m, mp::schema::UserAdd::Reader body, mp::schema::Envelope::Builder reply);
  void remove(Mutation& m, mp::schema::UserRemove::Reader body,
              mp::schema::Envelope::Builder reply);
  void modify(Mutation& m, mp::schema::UserModify::Reader body,
              mp::schema::Envelope::Builder reply);
  // `ok` and the role; a failure never says whether the name or the password was wrong.
  void authenticate(mp::schema::Authenticate::Reader body, std::string_view channel,
                    mp::schema::Envelope::Builder reply);

  struct PasswordCheck {
    std::optional<User> user;  // set when the password is right
    std::string reason;        // why not, without saying whether the name exists
  };
  // Checks a password, throttled per `channel` (the requesting service); spends a hash
  // verification even for unknown users.
  PasswordCheck check_password(std::string_view name, std::string_view password,
                               std::string_view client_address, std::string_view channel);

 private:
  // A typed user name as log lines may show it: an account's as it is, any other hashed.
  std::string user_for_log(std::string_view name) const;

  SessionStore& store_;
  const PasswordHasher& hasher_;
  Desktops& desktops_;
  DesktopStarts& starts_;
  mp::service::LogonThrottle throttle_;
  mp::service::UserNameRedactor name_redactor_;
};

}  // namespace mp::session
