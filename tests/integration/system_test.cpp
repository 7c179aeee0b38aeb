// The embedded system under fire: kill -9 of mp-session and mp-bus, and a rogue client.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <random>
#include <zmq.hpp>

#include "mp/bus/frame.h"
#include "supervised_system.h"

namespace mp::test {
namespace {

using namespace std::chrono_literals;
using mp::schema::Envelope;

std::string session_snapshot(SupervisedSystem& system) {
  auto reply = system.client().call(
      "session", [](Envelope::Builder e) { e.initSnapshotRequest().setTopic("session"); },
      mp::bus::RequestOptions{.deadline = 3s});
  if (!reply.ok() || !reply.envelope().isSessionSnapshot())
    return "no snapshot: " + reply.error_text();
  return kj::str(reply.envelope().getSessionSnapshot()).cStr();
}

std::size_t attached_stations(SupervisedSystem& system) {
  auto reply = system.client().call(
      "session", [](Envelope::Builder e) { e.initStationListRequest(); },
      mp::bus::RequestOptions{.deadline = 2s});
  if (!reply.ok()) return 0;
  std::size_t n = 0;
  for (auto s : reply.envelope().getStationList().getStations()) {
    if (s.getState() == mp::schema::StationState::ATTACHED) ++n;
  }
  return n;
}

bool all_registered(SupervisedSystem& system, const std::vector<std::string>& names) {
  auto now = system.registered();
  for (const auto& name : names) {
    if (!now.count(name)) return false;
  }
  return true;
}

TEST(System, TwoHundredStationsSurviveSessionKill) {
  SupervisedSystem system("bus,session,fake-transport");
  ASSERT_TRUE(system.wait_until(
      [&] {
        return all_registered(system, {"session", "fake-transport"});
      },
      10s))
      << system.log();
  auto reply = system.client().call(
      "fake-transport",
      [](Envelope::Builder e) {
        auto attach = e.initSimulateStations().initAttach(200);
        for (unsigned i = 0; i < 200; ++i) {
          attach[i].setKey("fake:seat-" + std::to_string(i));
          attach[i].setClientName("seat-" + std::to_string(i));
          attach[i].setAddress("10.0.0." + std::to_string(i));
        }
      },
      mp::bus::RequestOptions{.deadline = 5s});
  ASSERT_TRUE(reply.ok()) << reply.error_text();
  ASSERT_TRUE(system.wait_until([&] { return attached_stations(system) == 200; }, 20s))
      << attached_stations(system) << " attached\n"
      << system.log();

  std::string before = session_snapshot(system);
  auto services = system.services();
  ASSERT_TRUE(services.count("session"));
  pid_t old_pid = services["session"].pid;
  std::uint64_t old_incarnation = system.registered()["session"];
  ASSERT_EQ(::kill(old_pid, SIGKILL), 0);

  ASSERT_TRUE(system.wait_until(
      [&] {
        auto now = system.services();
        auto reg = system.registered();
        return now["session"].restarts == 1 && now["session"].pid != old_pid &&
               reg.count("session") && reg["session"] != old_incarnation;
      },
      10s))
      << system.log();
  EXPECT_EQ(session_snapshot(system), before) << "mp-session lost or changed state across kill -9";
}

TEST(System, EveryServiceReregistersWithinTwoSecondsAfterBusKill) {
  SupervisedSystem system("bus,session,fake-transport");
  const std::vector<std::string> names{"session", "fake-transport", "supervisor"};
  ASSERT_TRUE(system.wait_until([&] { return all_registered(system, names); }, 10s))
      << system.log();
  auto before = system.registered();
  pid_t bus_pid = system.services()["bus"].pid;
  ASSERT_GT(bus_pid, 0);

  auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(bus_pid, SIGKILL), 0);
  ASSERT_TRUE(system.wait_until([&] { return all_registered(system, names); }, 10s))
      << system.log();
  auto took = std::chrono::steady_clock::now() - killed_at;
  std::printf(
      "every service re-registered %lld ms after kill -9 of mp-bus\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_LE(took, 2s) << "re-registration took "
                      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count()
                      << " ms";
  // The same incarnations: the services did not restart, they re-registered.
  auto after = system.registered();
  for (const auto& name : names) EXPECT_EQ(after[name], before[name]) << name;
  EXPECT_EQ(system.services()["bus"].restarts, 1u);
}

void write_raw_garbage(const std::filesystem::path& socket_path, std::mt19937& random) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::snprintf(address.sun_path, sizeof address.sun_path, "%s", socket_path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    std::vector<char> junk(4096);
    for (auto& c : junk) c = static_cast<char>(random());
    (void)!::write(fd, junk.data(), junk.size());
  }
  ::close(fd);
}

TEST(System, RogueClientCrashesNothingAndIsCounted) {
  SupervisedSystem system("bus,session,fake-transport");
  ASSERT_TRUE(system.wait_until(
      [&] {
        return all_registered(system, {"session", "fake-transport"});
      },
      10s));
  auto before = system.services();
  auto rejected = [&] {
    auto reply = system.client().call("bus", [](Envelope::Builder e) { e.initBusStatusRequest(); });
    return reply.ok() ? reply.envelope().getBusStatus().getRejectedFrames() : 0;
  };
  std::uint64_t rejected_before = rejected();

  std::mt19937 random(11);
  zmq::context_t context;
  auto endpoint = [&](const char* name) {
    return "ipc://" + (system.runtime_dir() / name).string();
  };
  zmq::socket_t publisher(context, zmq::socket_type::pub);
  publisher.connect(endpoint("events-in"));
  zmq::socket_t requester(context, zmq::socket_type::dealer);
  requester.connect(endpoint("requests"));
  zmq::socket_t xsub_out(context, zmq::socket_type::xsub);
  xsub_out.connect(endpoint("events-out"));
  zmq::socket_t xsub_tap(context, zmq::socket_type::xsub);
  xsub_tap.connect(endpoint("tap"));
  system.pause(300ms);

  // A valid envelope to cut short.
  mp::bus::Outgoing valid;
  valid.envelope().initHeader().setSource("rogue");
  valid.envelope().initStationListRequest();
  zmq::message_t whole = valid.to_frame();
  std::string truncated(static_cast<const char*>(whole.data()), whole.size() - 8);
  std::string oversize(2 << 20, 'x');

  for (int round = 0; round < 20; ++round) {
    std::string junk(1 + random() % 200, '\0');
    for (auto& c : junk) c = static_cast<char>(random());
    publisher.send(zmq::buffer(junk), zmq::send_flags::none);
    publisher.send(zmq::str_buffer("session.station"), zmq::send_flags::sndmore);
    publisher.send(zmq::buffer(junk), zmq::send_flags::none);
    publisher.send(zmq::str_buffer("session.station"), zmq::send_flags::sndmore);
    publisher.send(zmq::buffer(truncated), zmq::send_flags::none);
    requester.send(zmq::str_buffer("Q"), zmq::send_flags::sndmore);
    requester.send(zmq::str_buffer("session"), zmq::send_flags::sndmore);
    requester.send(zmq::buffer(junk), zmq::send_flags::none);
    requester.send(zmq::str_buffer("Q"), zmq::send_flags::sndmore);
    requester.send(zmq::str_buffer("session"), zmq::send_flags::sndmore);
    requester.send(zmq::buffer(truncated), zmq::send_flags::none);
    requester.send(zmq::str_buffer("R"), zmq::send_flags::sndmore);
    requester.send(zmq::buffer(junk), zmq::send_flags::sndmore);
    requester.send(zmq::buffer(junk), zmq::send_flags::none);
    requester.send(zmq::buffer(junk), zmq::send_flags::none);
    xsub_out.send(zmq::buffer(junk), zmq::send_flags::none);
    xsub_tap.send(zmq::buffer(junk), zmq::send_flags::none);
  }
  // Oversize frames: ZeroMQ drops such a peer before the broker reads anything.
  publisher.send(zmq::str_buffer("t"), zmq::send_flags::sndmore);
  publisher.send(zmq::buffer(oversize), zmq::send_flags::none);
  requester.send(zmq::str_buffer("Q"), zmq::send_flags::sndmore);
  requester.send(zmq::str_buffer("session"), zmq::send_flags::sndmore);
  requester.send(zmq::buffer(oversize), zmq::send_flags::none);
  // Not even ZMTP: raw bytes on every socket file.
  for (const char* name : {"events-in", "events-out", "requests", "tap"}) {
    for (int i = 0; i < 5; ++i) write_raw_garbage(system.runtime_dir() / name, random);
  }

  ASSERT_TRUE(system.wait_until([&] { return rejected() >= rejected_before + 60; }, 5s))
      << "rejected " << rejected() - rejected_before;
  auto after = system.services();
  for (const auto& [name, info] : before) {
    EXPECT_EQ(after[name].pid, info.pid) << name << " was restarted";
    EXPECT_EQ(after[name].restarts, 0u) << name;
  }
  EXPECT_TRUE(system.client()
                  .call("session", [](Envelope::Builder e) { e.initStationListRequest(); })
                  .ok());
}

}  // namespace
}  // namespace mp::test
