#include "service_user.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "mp/bus/endpoints.h"
#include "mp/service/privileges.h"

namespace mp::dashboard {

std::string become_service_user(const std::string& user, const std::filesystem::path& runtime_dir,
                                const std::filesystem::path& state_dir) {
  auto account = mp::service::ensure_system_user(user);
  if (!account.ok()) return account.error;

  // What connecting to the bus needs: passing through the directory, writing to the sockets
  // (a broker not started yet has none: the directory decides then).
  std::vector<mp::service::PathAccess> paths{{runtime_dir, X_OK}};
  for (const auto& socket : mp::bus::Endpoints::in_directory(runtime_dir).service_socket_files()) {
    if (std::filesystem::exists(socket)) paths.push_back({socket, W_OK});
  }
  if (std::string why = mp::service::check_access_as(account, paths); !why.empty()) {
    return "as " + user + " it could not reach the bus (" + why +
           "): the runtime directory and its sockets must be open to group " +
           mp::service::kServiceGroup + " (mp-bus does that as root), or run with --user \"\"";
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
