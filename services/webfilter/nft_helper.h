// The small privileged helper that owns the nftables table. As root, mp-webfilter forks it
// before dropping to its own user; the helper stays root and does only this: receive "apply
// this uid set" (or "remove the table") over a socketpair, check it, write the nft script from
// the configuration it was forked with, run nft, answer ok or the error. When the socket closes
// (mp-webfilter exited or was killed) it exits and the table stays: station users' traffic
// fails closed until a new mp-webfilter replaces it.
//
// Wire (SOCK_SEQPACKET, one message per request): u32 operation, u32 count, count x u32 uid,
// host byte order. Answer: "ok" or "error: TEXT".
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "nftables.h"
#include "station_firewall.h"

namespace mp::webfilter {

enum class NftOperation : std::uint32_t { apply = 1, remove = 2 };

// At most this many uids in one request.
inline constexpr std::size_t kMaxStationUids = 16384;

// A request as the helper reads it. nullopt, with `error` set, for anything malformed or for a
// uid that must never be filtered (0, the proxy's, -1).
struct NftRequest {
  NftOperation operation = NftOperation::apply;
  std::set<uid_t> uids;
};
std::string encode_nft_request(NftOperation operation, const std::set<uid_t>& uids);
std::optional<NftRequest> decode_nft_request(std::string_view bytes, uid_t proxy_uid,
                                             std::string& error);

// The helper's loop on `fd`: one request, one answer, until the peer closes. Returns the exit
// code for the helper process (0 after a clean close).
int serve_nft_requests(int fd, const StationNetwork& network, const std::string& nft_program);

// mp-webfilter's end: forks the helper and talks to it.
class NftHelper : public StationFirewall {
 public:
  // Forks the helper with `network` and `nft_program` (call before any thread starts; as root).
  // Throws std::system_error if it cannot.
  static std::unique_ptr<NftHelper> start(const StationNetwork& network,
                                          const std::string& nft_program);
  // Closes the socket (the helper exits, leaving the table) and reaps the helper.
  ~NftHelper() override;
  NftHelper(const NftHelper&) = delete;
  NftHelper& operator=(const NftHelper&) = delete;

  // Blocking: returns when nft has finished.
  std::string apply(const std::set<uid_t>& uids) override;
  std::string remove();
  uid_t proxy_uid() const override { return proxy_uid_; }
  pid_t pid() const { return pid_; }

 private:
  NftHelper(int fd, pid_t pid, uid_t proxy_uid) : fd_(fd), pid_(pid), proxy_uid_(proxy_uid) {}
  std::string call(NftOperation operation, const std::set<uid_t>& uids);

  int fd_;
  pid_t pid_;
  uid_t proxy_uid_;
  std::optional<std::set<uid_t>> applied_;  // what the kernel has, as far as we know
};

}  // namespace mp::webfilter
