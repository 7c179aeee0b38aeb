// Anyone who reaches port 3389 may connect as often as they like, under any computer name,
// without a password that works: 5,000 connections with distinct names. None of that may become
// state: stations are stored only once someone logged on, so the flood leaves mp-session's store,
// its snapshot and every replica of it as they were. It is cheap for the server too: the first
// connections reach the logon and fail; once their source is in the throttle's wait the rest are
// turned away before TLS. Real mp-supervisor, mp-session, mp-policy, mp-rdp; a headless FreeRDP
// client in this process, several connections at a time.
#include <freerdp/client.h>
#include <freerdp/freerdp.h>
#include <freerdp/settings.h>
#include <gtest/gtest.h>
#include <winpr/wlog.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <iostream>
#include <thread>

#include "desktop_system.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;

// One connection that tries a logon with a wrong password and is refused.
bool connect_once(int port, const std::string& client_name, const std::string& user) {
  RDP_CLIENT_ENTRY_POINTS entry{};
  entry.Version = RDP_CLIENT_INTERFACE_VERSION;
  entry.Size = sizeof(RDP_CLIENT_ENTRY_POINTS_V1);
  entry.ContextSize = sizeof(rdpContext);
  rdpContext* rdp = freerdp_client_context_new(&entry);
  if (rdp == nullptr) return false;
  rdpSettings* s = rdp->settings;
  freerdp_settings_set_string(s, FreeRDP_ServerHostname, "127.0.0.1");
  freerdp_settings_set_uint32(s, FreeRDP_ServerPort, static_cast<UINT32>(port));
  freerdp_settings_set_string(s, FreeRDP_Username, user.c_str());
  freerdp_settings_set_string(s, FreeRDP_Password, "not the password");
  freerdp_settings_set_bool(s, FreeRDP_AutoLogonEnabled, TRUE);
  freerdp_settings_set_string(s, FreeRDP_ClientHostname, client_name.c_str());
  // FreeRDP's client zeroes codec buffers the size of its desktop at every connect: most of
  // what a connection costs it. These clients never see a desktop.
  freerdp_settings_set_uint32(s, FreeRDP_DesktopWidth, 64);
  freerdp_settings_set_uint32(s, FreeRDP_DesktopHeight, 64);
  freerdp_settings_set_bool(s, FreeRDP_IgnoreCertificate, TRUE);
  freerdp_settings_set_bool(s, FreeRDP_NlaSecurity, FALSE);
  freerdp_settings_set_uint32(s, FreeRDP_TcpAckTimeout, 10000);
  bool connected = freerdp_client_start(rdp) == 0 && freerdp_connect(rdp->instance);
  if (connected) freerdp_disconnect(rdp->instance);
  freerdp_client_stop(rdp);
  freerdp_client_context_free(rdp);
  return connected;
}

TEST(RdpFlood, ConnectionsThatNeverLogOnStoreNothing) {
  if (auto missing = missing_desktop_prerequisites(); !missing.empty()) GTEST_SKIP() << missing;
  WLog_SetLogLevel(WLog_GetRoot(), WLOG_OFF);  // 5000 refusals would flood the test's output
  DesktopSystem system;
  // MP_FLOOD_CONNECTIONS and MP_FLOOD_THREADS change the flood's size and width.
  const char* wanted = std::getenv("MP_FLOOD_CONNECTIONS");
  const int kConnections = wanted != nullptr ? std::max(1, std::atoi(wanted)) : 5000;
  const char* threads_wanted = std::getenv("MP_FLOOD_THREADS");
  const int kThreads = threads_wanted != nullptr ? std::max(1, std::atoi(threads_wanted)) : 8;
  std::atomic<int> next{0}, logged_on{0};
  auto started = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < kConnections; i = next++) {
        if (connect_once(system.port(), "flood-" + std::to_string(i),
                         "guess" + std::to_string(i % 97))) {
          ++logged_on;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << kConnections << " connections in " << seconds << " s\n";
  EXPECT_EQ(logged_on, 0);
  // Both halves of the flood happened: names that reached the logon and failed, and
  // connections turned away before TLS.
  EXPECT_NE(system.log().find("on station rdp:flood-"), std::string::npos) << system.log_tail();
  EXPECT_NE(system.log().find("turned away"), std::string::npos) << system.log_tail();

  // Nothing was stored; mp-session and the replica of its state in mp-policy answer as before.
  auto stations = system.mpctl({"stations", "--json"});
  ASSERT_EQ(stations.exit_code, 0) << stations.output;
  EXPECT_EQ(nlohmann::json::parse(stations.output, nullptr, false).size(), 0u) << stations.output;
  auto policy = system.mpctl({"policy", "show", "--json"});
  EXPECT_EQ(policy.exit_code, 0) << policy.output;
  EXPECT_EQ(policy.output.find("flood-"), std::string::npos) << "no station of the flood in policy";
  EXPECT_TRUE(system.pid_of("rdp") != 0 && system.pid_of("session") != 0) << system.log();
}

}  // namespace
}  // namespace mp::test
