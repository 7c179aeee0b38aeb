// mp-session's SessionService on a real SQLite file in a TempDir, served by a real Client on an
// in-process bus, and a second Client acting as the caller (and, for StationCommands, a
// transport). All share one reactor that runs on the test thread (Client::call drives it).
#pragma once

#include <capnp/dynamic.h>
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/testing.h"
#include "password.h"
#include "recorded_desktops.h"
#include "session_service.h"
#include "session_store.h"
#include "support/temp_dir.h"

namespace mp::session {

using mp::bus::Build;
using mp::bus::Reply;
using mp::schema::Envelope;

class SessionFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    start_service();
    caller = std::make_unique<mp::bus::Client>(bus.context(), reactor, bus.endpoints(),
                                               mp::bus::ClientOptions{.service = "caller"});
  }

  void start_service() {
    store = std::make_unique<SessionStore>(database());
    service = std::make_unique<SessionService>(
        *store, hasher, desktops,
        BusAccess{
            .publish = [this](std::string_view topic, const Build& body,
                              std::uint64_t version) { server->publish(topic, body, version); },
            .answer_later = [this] { return server->answer_later(); },
            .request =
                [this](const std::string& transport, const Build& body,
                       std::function<void(Reply)> done) {
                  server->request(transport, body,
                                  mp::bus::RequestOptions{.deadline = std::chrono::seconds(2)},
                                  std::move(done));
                },
            .defer =
                [this](std::function<void()> later) {
                  reactor.after(std::chrono::milliseconds(0), std::move(later));
                }},
        options);
    server = std::make_unique<mp::bus::Client>(
        bus.context(), reactor, bus.endpoints(),
        mp::bus::ClientOptions{.service = std::string(kServiceName)});
    service->recover_desktops();
    server->serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
      return service->handle(request, reply);
    });
    ASSERT_TRUE(reactor.run_until([this] { return server->counters().registrations > 0; },
                                  std::chrono::seconds(5)));
  }

  void stop_service() {
    server.reset();
    service.reset();
    store.reset();
  }

  // A new store, service and bus client on the same file: what a process restart does.
  void restart_service() {
    stop_service();
    start_service();
  }

  std::filesystem::path database() const { return dir / "session.db"; }

  Reply call(const Build& body, const std::string& idempotency_key = {}) {
    return caller->call(kServiceName, body,
                        mp::bus::RequestOptions{.deadline = std::chrono::seconds(5),
                                                .idempotency_key = idempotency_key});
  }

  // Let subscriptions reach the broker.
  void settle(std::chrono::milliseconds time = std::chrono::milliseconds(200)) {
    reactor.run_until([] { return false; }, time);
  }

  mp::bus::InProcessBus bus;
  mp::bus::Reactor reactor;
  mp::test::TempDir dir{"mp-session"};
  PasswordHasher hasher{PasswordCost::minimum()};
  SessionServiceOptions options;
  RecordedDesktops desktops;
  std::unique_ptr<SessionStore> store;
  std::unique_ptr<SessionService> service;
  std::unique_ptr<mp::bus::Client> server;
  std::unique_ptr<mp::bus::Client> caller;
};

// Request bodies -----------------------------------------------------------------------------

struct StationSpec {
  std::string key;
  std::string transport = "fake";
  std::string client_name = "client";
  std::string address = "192.0.2.1";
};

inline void fill_info(mp::schema::StationInfo::Builder info, const StationSpec& spec) {
  info.setKey(spec.key);
  info.setTransport(spec.transport);
  info.setClientName(spec.client_name);
  info.setAddress(spec.address);
  auto caps = info.initCapabilities();
  caps.setVideo(true);
  caps.setKeyboard(true);
  caps.setMouse(true);
  caps.setWidth(1280);
  caps.setHeight(720);
}

inline Build attach(StationSpec spec) {
  return [spec](Envelope::Builder e) { fill_info(e.initStationAttach().initStation(), spec); };
}

inline Build detach(std::string key) {
  return [key](Envelope::Builder e) {
    auto body = e.initStationDetach();
    body.setKey(key);
    body.setReason("test");
  };
}

inline Build sync(std::string transport, std::vector<StationSpec> stations) {
  return [transport, stations](Envelope::Builder e) {
    auto body = e.initTransportSync();
    body.setTransport(transport);
    auto list = body.initStations(static_cast<unsigned>(stations.size()));
    for (unsigned i = 0; i < stations.size(); ++i) fill_info(list[i], stations[i]);
  };
}

inline Build add_user(std::string name, std::string password,
                      mp::schema::Role role = mp::schema::Role::STANDARD) {
  return [name, password, role](Envelope::Builder e) {
    auto body = e.initUserAdd();
    body.setName(name);
    body.setPassword(password);
    body.setRole(role);
  };
}

inline Build authenticate(std::string user, std::string password) {
  return [user, password](Envelope::Builder e) {
    auto body = e.initAuthenticate();
    body.setUser(user);
    body.setPassword(password);
    body.setClientAddress("192.0.2.9");
  };
}

inline Build credentials(std::string station, std::string user, std::string password) {
  return [station, user, password](Envelope::Builder e) {
    auto body = e.initCredentials();
    body.setStationKey(station);
    body.setUser(user);
    body.setPassword(password);
    body.setClientAddress("192.0.2.1");
  };
}

inline Build rename(std::string key, std::string name) {
  return [key, name](Envelope::Builder e) {
    auto body = e.initStationRename();
    body.setKey(key);
    body.setName(capnp::Text::Reader(name.data(), name.size()));  // whole, NULs included
  };
}

inline Build snapshot_request(std::string topic = "session") {
  return [topic](Envelope::Builder e) { e.initSnapshotRequest().setTopic(topic); };
}

// The body of a reply as text: compares whole replies and snapshots field by field.
inline std::string body_text(const Reply& reply) {
  if (!reply.message) return "<no reply: " + reply.error_text() + ">";
  capnp::DynamicStruct::Reader source = capnp::toDynamic(reply.envelope());
  KJ_IF_MAYBE (field, source.which()) {
    return std::string(field->getProto().getName().cStr()) + " " +
           kj::str(source.get(*field)).cStr();
  }
  return "<no body>";
}

}  // namespace mp::session
