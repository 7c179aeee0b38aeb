// The Linux accounts behind multipoint users. As root, every multipoint user is a Linux account
// that mp-session created (`useradd`, marked in the GECOS field so a name that belongs to someone
// else is never taken over), locked for password logins; a session's processes run as it.
// Not root (development): every session runs as the invoking user, and nothing is created.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace mp::session {

// Who a session's processes run as.
struct UnixAccount {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups (getgrouplist), the primary one included
  std::string home;
  std::string shell;
};

class UnixAccounts {
 public:
  // The GECOS field of every account mp-session creates.
  static constexpr const char* kMarker = "multipoint user";

  struct Options {
    // Where useradd/usermod are (tests of a machine without them skip).
    std::string useradd = "/usr/sbin/useradd";
    std::string usermod = "/usr/sbin/usermod";
    // The login shell: none. A student's account is for multipoint sessions only (their desktop
    // gets a real shell through the session's SHELL); sshd, su or a console login get nothing.
    std::string shell = "/usr/sbin/nologin";
    // cron and at refuse users listed here (Debian allows everyone when neither the allow nor
    // the deny file exists): a scheduled job would run outside every session and its limits.
    std::vector<std::string> deny_files = {"/etc/cron.deny", "/etc/at.deny"};
    std::string crontabs_dir = "/var/spool/cron/crontabs";
  };

  // `manage` = true: create and lock accounts (needs root). false: every user is the invoking
  // user (development).
  UnixAccounts(bool manage, Options options);
  explicit UnixAccounts(bool manage) : UnixAccounts(manage, Options{}) {}

  bool manages_accounts() const { return manage_; }

  // Makes sure `name` can run a session: creates the account, or re-enables one that
  // multipoint created and locked before. An error text if the name belongs to an account
  // multipoint did not create, or useradd failed.
  std::variant<UnixAccount, std::string> ensure(const std::string& name);
  // The account a session of `name` runs as, if it exists and is usable (never root).
  std::variant<UnixAccount, std::string> lookup(const std::string& name) const;
  // Locks the account (password and expiry locked, shell nologin); files stay. Only accounts
  // multipoint created; an error text otherwise.
  std::string lock(const std::string& name);

 private:
  // Lists `name` in the deny files and removes a crontab it may have; an error text or "".
  std::string deny_scheduling(const std::string& name) const;

  bool manage_;
  Options options_;
};

// True if `uid` is an account multipoint made (a student's or any other multipoint user's).
bool is_multipoint_account(uid_t uid);

// The account entry of `name` or of `uid`, through NSS.
std::optional<UnixAccount> find_account(const std::string& name);
std::optional<UnixAccount> find_account(uid_t uid);
// The GECOS field of `name` ("" if none).
std::string gecos_of(const std::string& name);

// Runs a program (no shell) to completion; its exit code (-1 if it could not run) and output.
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::vector<std::string>& argv);

}  // namespace mp::session
