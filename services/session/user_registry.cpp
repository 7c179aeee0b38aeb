#include "user_registry.h"

#include <spdlog/spdlog.h>

#include "request_limits.h"
#include "session_rules.h"
#include "validation.h"
#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::Role;
using mp::service::retry_text;

// The same answer for an unknown user and a wrong password.
constexpr const char* kLogonRefused = "unknown user or wrong password";
constexpr const char* kLogonThrottled = "too many failed logons";

bool valid_role(Role role) {
  return role == Role::STANDARD || role == Role::ADMIN || role == Role::DASHBOARD;
}

}  // namespace

UserRegistry::UserRegistry(SessionStore& store, const PasswordHasher& hasher, Desktops& desktops,
                           DesktopStarts& starts, mp::service::LogonThrottle::Options throttle)
    : store_(store),
      hasher_(hasher),
      desktops_(desktops),
      starts_(starts),
      throttle_(std::move(throttle)) {}

UserRegistry::PasswordCheck UserRegistry::check_password(std::string_view name,
                                                         std::string_view password,
                                                         std::string_view client_address,
                                                         std::string_view channel) {
  // Malformed names count against their source only; unknown names count like accounts, so
  // the throttle tells nothing about which names exist.
  bool well_formed = check_user_name(name).empty();
  auto admission =
      throttle_.begin(well_formed ? name : std::string_view(), client_address, channel);
  if (!admission.allowed()) {
    spdlog::warn("logon for {} from {} via {} refused: too many failures ({})", user_for_log(name),
                 client_address, channel, retry_text(admission.retry_after));
    return {std::nullopt, std::string(kLogonThrottled) + "; " + retry_text(admission.retry_after)};
  }
  // Malformed names and unknown users cost one verification too: timing reveals nothing.
  std::optional<User> user;
  std::optional<std::string> hash;
  if (well_formed) {
    user = store_.user(name);
    hash = store_.password_hash(name);
  }
  bool ok = user && hash ? hasher_.verify(*hash, password) : hasher_.verify_decoy(password);
  if (!ok) {
    throttle_.finish(*admission.attempt, mp::service::LogonThrottle::Outcome::failed);
    spdlog::warn("logon failed for {} from {} via {}", user_for_log(name), client_address, channel);
    return {std::nullopt, kLogonRefused};
  }
  throttle_.finish(*admission.attempt, mp::service::LogonThrottle::Outcome::succeeded);
  return {user, ""};
}

std::string UserRegistry::user_for_log(std::string_view name) const {
  bool is_account = check_user_name(name).empty() && store_.user(name).has_value();
  return name_redactor_.for_log(name, is_account);
}

void UserRegistry::authenticate(mp::schema::Authenticate::Reader body, std::string_view channel,
                                Envelope::Builder reply) {
  std::string address = wire_text(body.getClientAddress());
  if (auto e = check_text("clientAddress", address, kMaxAddressBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto check =
      check_password(wire_view(body.getUser()), wire_view(body.getPassword()), address, channel);
  auto result = reply.initLogonResult();
  result.setOk(check.user.has_value());
  if (check.user) {
    result.setRole(check.user->role);
  } else {
    result.setReason(check.reason);
  }
}

void UserRegistry::add(Mutation& m, mp::schema::UserAdd::Reader body, Envelope::Builder reply) {
  std::string name = wire_text(body.getName());
  std::string e = check_user_name(name);
  if (e.empty() && !valid_role(body.getRole())) e = "role must be standard, admin or dashboard";
  if (e.empty()) e = check_new_password(wire_view(body.getPassword()));
  if (e.empty() && store_.user(name)) e = "user '" + name + "' already exists";
  if (e.empty()) e = desktops_.add_user(name);  // the Linux account behind it
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  User user{.name = name, .role = body.getRole(), .created_at_ns = m.now_ns};
  store_.add_user(user, hasher_.hash(wire_view(body.getPassword())));
  m.changes.emplace_back(UserChange{user, false});
  spdlog::info("user {} added", name);
  reply.initAck();
}

void UserRegistry::remove(Mutation& m, mp::schema::UserRemove::Reader body,
                          Envelope::Builder reply) {
  std::string name = wire_text(body.getName());
  if (auto e = check_user_name(name); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto user = store_.user(name);
  if (!user) {
    set_error(reply, Error::Kind::INVALID, "no user '" + name + "'");
    return;
  }
  if (std::uint64_t starting = starts_.of_user(name); starting != 0) {
    starts_.abandon_after(m, starting, "user '" + name + "' was removed");
  }
  for (const auto& record : store_.open_sessions_of_user(name)) close_session(store_, m, record);
  store_.remove_user(name);
  m.changes.emplace_back(UserChange{*user, true});
  spdlog::info("user {} removed", name);
  // The Linux account is locked, not deleted: the user's files stay for an administrator.
  std::string locked = desktops_.remove_user(name);
  if (!locked.empty()) spdlog::error("user {}: {}", name, locked);
  reply.initAck().setDetail(locked.empty() ? "sessions ended, account locked" : locked);
}

void UserRegistry::modify(Mutation& m, mp::schema::UserModify::Reader body,
                          Envelope::Builder reply) {
  std::string name = wire_text(body.getName());
  bool set_role = body.getRole() != Role::UNKNOWN;
  bool set_password = body.getPassword().size() > 0;
  std::string e = check_user_name(name);
  if (e.empty() && !set_role && !set_password) e = "nothing to change: give a role or a password";
  if (e.empty() && set_role && !valid_role(body.getRole())) {
    e = "role must be standard, admin or dashboard";
  }
  if (e.empty() && set_password) e = check_new_password(wire_view(body.getPassword()));
  auto user = e.empty() ? store_.user(name) : std::nullopt;
  if (e.empty() && !user) e = "no user '" + name + "'";
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  std::string detail;
  if (set_role && body.getRole() != user->role) {
    store_.set_user_role(name, body.getRole());
    user->role = body.getRole();
    m.changes.emplace_back(UserChange{*user, false});
    detail = "role changed";
  }
  if (set_password) {
    // Only when, never what: logins made before it end (the dashboard's, for one).
    store_.set_password_hash(name, hasher_.hash(wire_view(body.getPassword())), m.now_ns);
    user->password_changed_at_ns = m.now_ns;
    if (!m.changes.empty() && std::holds_alternative<UserChange>(m.changes.back())) {
      std::get<UserChange>(m.changes.back()).user = *user;
    } else {
      m.changes.emplace_back(UserChange{*user, false});
    }
    detail += detail.empty() ? "password reset" : ", password reset";
  }
  if (detail.empty()) detail = "unchanged";
  spdlog::info("user {}: {}", name, detail);
  reply.initAck().setDetail(detail);
}

}  // namespace mp::session
