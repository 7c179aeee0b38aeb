// The privileged nftables helper: what it accepts on its socket, that it runs nft with the
// table and answers, and that it leaves when mp-webfilter's end of the socket closes. nft is a
// fake here (a script that keeps what it was given); nftables_test.cpp runs the real one.
#include "nft_helper.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <thread>

#include "support/process.h"
#include "support/temp_dir.h"

namespace mp::webfilter {
namespace {

constexpr uid_t kProxyUid = 998;

TEST(NftRequest, RoundTripsAndRefusesWhatMustNeverBeFiltered) {
  std::string error;
  auto request =
      decode_nft_request(encode_nft_request(NftOperation::apply, {1001, 1002}), kProxyUid, error);
  ASSERT_TRUE(request) << error;
  EXPECT_EQ(request->operation, NftOperation::apply);
  EXPECT_EQ(request->uids, (std::set<uid_t>{1001, 1002}));
  for (uid_t never : {uid_t{0}, kProxyUid, static_cast<uid_t>(-1)}) {
    EXPECT_FALSE(decode_nft_request(encode_nft_request(NftOperation::apply, {1001, never}),
                                    kProxyUid, error));
    EXPECT_NE(error.find("never filtered"), std::string::npos) << error;
  }
}

TEST(NftRequest, MalformedRequestsAreRefused) {
  std::string error;
  std::string good = encode_nft_request(NftOperation::apply, {1001});
  EXPECT_FALSE(decode_nft_request(good.substr(0, 7), kProxyUid, error));
  EXPECT_FALSE(decode_nft_request(good.substr(0, good.size() - 1), kProxyUid, error));
  EXPECT_FALSE(decode_nft_request(good + "xxxx", kProxyUid, error));
  std::string unknown = good;
  unknown[0] = 9;
  EXPECT_FALSE(decode_nft_request(unknown, kProxyUid, error));
  EXPECT_NE(error.find("unknown operation"), std::string::npos);
  std::string huge = encode_nft_request(NftOperation::apply, {});
  std::uint32_t count = kMaxStationUids + 1;
  std::memcpy(huge.data() + 4, &count, 4);
  EXPECT_FALSE(decode_nft_request(huge, kProxyUid, error));
  EXPECT_FALSE(
      decode_nft_request(encode_nft_request(NftOperation::remove, {1001}), kProxyUid, error));
  EXPECT_TRUE(decode_nft_request(encode_nft_request(NftOperation::remove, {}), kProxyUid, error));
}

// A stand-in for nft: appends its stdin to `log`, then exits with what `status` holds.
std::filesystem::path fake_nft(const mp::test::TempDir& dir) {
  auto program = dir / "nft";
  std::ofstream(program) << "#!/bin/sh\ncat >> " << (dir / "log").string() << "\necho '----' >> "
                         << (dir / "log").string() << "\n"
                         << "[ -f " << (dir / "fail").string() << " ] && { echo 'Error: no'; "
                         << "exit 1; }\nexit 0\n";
  chmod(program.c_str(), 0755);
  return program;
}

StationNetwork network() {
  StationNetwork n;
  n.redirect_port_v4 = 3129;
  n.proxy_uid = kProxyUid;
  return n;
}

TEST(NftHelperLoop, AnswersEachRequestAndStopsWhenTheSocketCloses) {
  mp::test::TempDir dir("mp-nfth");
  auto program = fake_nft(dir);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
  int exit_code = -1;
  std::thread helper([&] { exit_code = serve_nft_requests(fds[1], network(), program.string()); });
  auto ask = [&](const std::string& request) {
    send(fds[0], request.data(), request.size(), 0);
    char answer[4096];
    ssize_t n = recv(fds[0], answer, sizeof answer, 0);
    return n > 0 ? std::string(answer, static_cast<std::size_t>(n)) : std::string();
  };
  EXPECT_EQ(ask(encode_nft_request(NftOperation::apply, {1001})), "ok");
  EXPECT_NE(mp::test::read_file(dir / "log").find("elements = { 1001 }"), std::string::npos);
  // A forbidden uid never reaches nft.
  std::string log_before = mp::test::read_file(dir / "log");
  EXPECT_EQ(ask(encode_nft_request(NftOperation::apply, {0})), "error: uid 0 is never filtered");
  EXPECT_EQ(mp::test::read_file(dir / "log"), log_before);
  EXPECT_EQ(ask("garbage").substr(0, 6), "error:");
  std::ofstream(dir / "fail") << "";
  EXPECT_EQ(ask(encode_nft_request(NftOperation::apply, {1002})), "error: nft failed: Error: no");
  close(fds[0]);
  helper.join();
  EXPECT_EQ(exit_code, 0);
  close(fds[1]);
}

TEST(NftHelperProcess, AppliesRemovesAndLeavesWhenItsOwnerGoes) {
  mp::test::TempDir dir("mp-nfth");
  auto program = fake_nft(dir);
  auto helper = NftHelper::start(network(), program.string());
  pid_t pid = helper->pid();
  EXPECT_EQ(helper->proxy_uid(), kProxyUid);
  EXPECT_EQ(helper->apply({1001, 0, kProxyUid}), "");  // root and the proxy left out here too
  EXPECT_NE(mp::test::read_file(dir / "log").find("elements = { 1001 }"), std::string::npos);
  // The same set again costs no nft run.
  std::string log_before = mp::test::read_file(dir / "log");
  EXPECT_EQ(helper->apply({1001}), "");
  EXPECT_EQ(mp::test::read_file(dir / "log"), log_before);
  // SIGTERM (a terminal's Ctrl-C, a signal to the group) does not take the helper away.
  kill(pid, SIGTERM);
  EXPECT_EQ(helper->apply({1001, 1002}), "");
  EXPECT_EQ(helper->remove(), "");
  EXPECT_NE(mp::test::read_file(dir / "log").find("delete table inet multipoint_webfilter\n----"),
            std::string::npos);
  helper.reset();  // closes the socket: the helper exits on its own, the table is not touched
  EXPECT_EQ(kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace mp::webfilter
