#include "service_user.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "mp/service/privileges.h"

namespace mp::dashboard {

std::string become_service_user(const std::string& user, const std::filesystem::path& runtime_dir,
                                const std::filesystem::path& state_dir) {
  auto account = mp::service::ensure_system_user(user);
  if (!account.ok()) return account.error;

  if (std::string why = mp::service::bus_unreachable_as(account, runtime_dir); !why.empty()) {
    return why;
  }

  std::error_code error;
  std::filesystem::create_directories(state_dir, error);
  if (error) return "cannot create " + state_dir.string() + ": " + error.message();
  if (chown(state_dir.c_str(), account.uid, account.gid) != 0 ||
      chmod(state_dir.c_str(), 0700) != 0) {
    return "cannot give " + state_dir.string() + " to " + user + ": " + std::strerror(errno);
  }

  if (std::string why = mp::service::drop_privileges(user); !why.empty()) {
    return "cannot drop root for " + user + ": " + why;
  }
  spdlog::info("running as {} (uid {})", user, account.uid);
  return "";
}

}  // namespace mp::dashboard
