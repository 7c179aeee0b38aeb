#include "nft_helper.h"

#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <system_error>
#include <vector>

namespace mp::webfilter {

namespace {

constexpr std::size_t kHeaderBytes = 8;
constexpr std::size_t kMaxRequestBytes = kHeaderBytes + 4 * kMaxStationUids;
// nft takes milliseconds; a helper silent this long is stuck, and the caller must know.
constexpr time_t kAnswerTimeoutSeconds = 30;

void put_u32(std::string& out, std::uint32_t value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

std::uint32_t get_u32(std::string_view bytes, std::size_t at) {
  std::uint32_t value;
  std::memcpy(&value, bytes.data() + at, sizeof value);
  return value;
}

}  // namespace

std::string encode_nft_request(NftOperation operation, const std::set<uid_t>& uids) {
  std::string out;
  out.reserve(kHeaderBytes + 4 * uids.size());
  put_u32(out, static_cast<std::uint32_t>(operation));
  put_u32(out, static_cast<std::uint32_t>(uids.size()));
  for (uid_t uid : uids) put_u32(out, static_cast<std::uint32_t>(uid));
  return out;
}

std::optional<NftRequest> decode_nft_request(std::string_view bytes, uid_t proxy_uid,
                                             std::string& error) {
  if (bytes.size() < kHeaderBytes) {
    error = "request shorter than its header";
    return std::nullopt;
  }
  NftRequest request;
  std::uint32_t operation = get_u32(bytes, 0);
  std::uint32_t count = get_u32(bytes, 4);
  if (operation == static_cast<std::uint32_t>(NftOperation::apply)) {
    request.operation = NftOperation::apply;
  } else if (operation == static_cast<std::uint32_t>(NftOperation::remove)) {
    request.operation = NftOperation::remove;
  } else {
    error = "unknown operation " + std::to_string(operation);
    return std::nullopt;
  }
  if (count > kMaxStationUids) {
    error = std::to_string(count) + " uids, more than " + std::to_string(kMaxStationUids);
    return std::nullopt;
  }
  if (bytes.size() != kHeaderBytes + 4ull * count) {
    error = "request of " + std::to_string(bytes.size()) + " bytes for " + std::to_string(count) +
            " uids";
    return std::nullopt;
  }
  if (request.operation == NftOperation::remove && count != 0) {
    error = "remove takes no uids";
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < count; ++i) {
    auto uid = static_cast<uid_t>(get_u32(bytes, kHeaderBytes + 4 * i));
    if (uid == 0 || uid == proxy_uid || uid == static_cast<uid_t>(-1)) {
      error = "uid " + std::to_string(uid) + " is never filtered";
      return std::nullopt;
    }
    request.uids.insert(uid);
  }
  return request;
}

int serve_nft_requests(int fd, const StationNetwork& network, const std::string& nft_program) {
  std::vector<char> buffer(kMaxRequestBytes);
  while (true) {
    // MSG_TRUNC: the message's real length, so an oversized one is seen as such.
    ssize_t n = recv(fd, buffer.data(), buffer.size(), MSG_TRUNC);
    if (n == 0) return 0;  // mp-webfilter closed its end: the table stays as it is
    if (n < 0) {
      if (errno == EINTR) continue;
      spdlog::error("nftables helper: {}", std::strerror(errno));
      return 1;
    }
    std::string answer = "ok";
    std::string error;
    if (static_cast<std::size_t>(n) > buffer.size()) {
      error = "request too large";
    } else if (auto request =
                   decode_nft_request(std::string_view(buffer.data(), static_cast<std::size_t>(n)),
                                      network.proxy_uid, error)) {
      bool install = request->operation == NftOperation::apply;
      error = run_nft(nft_program,
                      install ? nft_install_script(network, request->uids) : nft_remove_script());
      if (error.empty() && install) {
        spdlog::info("nftables: {} station user(s) under the web rules", request->uids.size());
      } else if (error.empty()) {
        spdlog::info("nftables: rules removed");
      }
    }
    if (!error.empty()) {
      spdlog::error("nftables: {}", error);
      answer = "error: " + error;
    }
    if (send(fd, answer.data(), answer.size(), MSG_NOSIGNAL) < 0 && errno != EINTR) return 1;
  }
}

std::unique_ptr<NftHelper> NftHelper::start(const StationNetwork& network,
                                            const std::string& nft_program) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    throw std::system_error(errno, std::generic_category(), "nftables helper socketpair");
  }
  pid_t pid = fork();
  if (pid < 0) {
    int error = errno;
    close(fds[0]);
    close(fds[1]);
    throw std::system_error(error, std::generic_category(), "nftables helper fork");
  }
  if (pid == 0) {
    // The helper: nothing of the parent's but its socket and the standard streams.
    int fd = fds[1];
    if (fd > 3) close_range(3, static_cast<unsigned>(fd - 1), 0);
    close_range(static_cast<unsigned>(fd + 1), ~0U, 0);
    prctl(PR_SET_NAME, "mp-wf-nftables");
    // A terminal's Ctrl-C or a signal to the group must not take the table's owner away
    // before mp-webfilter has asked it to remove the table: it ends when its socket closes.
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    _exit(serve_nft_requests(fd, network, nft_program));
  }
  close(fds[1]);
  timeval timeout{kAnswerTimeoutSeconds, 0};
  setsockopt(fds[0], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  return std::unique_ptr<NftHelper>(new NftHelper(fds[0], pid, network.proxy_uid));
}

NftHelper::~NftHelper() {
  close(fd_);
  while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

std::string NftHelper::call(NftOperation operation, const std::set<uid_t>& uids) {
  std::string request = encode_nft_request(operation, uids);
  ssize_t sent;
  do {
    sent = send(fd_, request.data(), request.size(), MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  if (sent != static_cast<ssize_t>(request.size())) {
    return std::string("the nftables helper is gone: ") + std::strerror(errno);
  }
  char answer[4096];
  ssize_t n;
  do {
    n = recv(fd_, answer, sizeof answer, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    return n == 0 ? "the nftables helper is gone"
                  : std::string("no answer from the nftables helper: ") + std::strerror(errno);
  }
  std::string_view text(answer, static_cast<std::size_t>(n));
  if (text == "ok") return "";
  if (text.starts_with("error: ")) text.remove_prefix(7);
  return std::string(text);
}

std::string NftHelper::apply(const std::set<uid_t>& uids) {
  std::set<uid_t> filtered;
  for (uid_t uid : uids) {
    if (uid != 0 && uid != proxy_uid_ && uid != static_cast<uid_t>(-1)) filtered.insert(uid);
  }
  if (applied_ && *applied_ == filtered) return "";
  std::string error = call(NftOperation::apply, filtered);
  if (error.empty()) applied_ = std::move(filtered);
  return error;
}

std::string NftHelper::remove() {
  std::string error = call(NftOperation::remove, {});
  applied_.reset();
  return error;
}

}  // namespace mp::webfilter
