// mp-policy's PolicyService on a real SQLite file in a TempDir, served by a real Client on an
// in-process bus; a caller Client (operator "alice") and a listener Client that records every
// "policy.effective" update. One reactor on the test thread (Client::call drives it). The
// service's clock is `now_ns`, set by the test.
#pragma once

#include <gtest/gtest.h>

#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mp/bus/client.h"
#include "mp/bus/testing.h"
#include "policy_service.h"
#include "policy_store.h"
#include "support/temp_dir.h"

namespace mp::policy {

using mp::bus::Build;
using mp::bus::Reply;
using mp::schema::Envelope;
using mp::schema::Error;

// CLOCK_REALTIME ns of a local time (the process's TZ). 2024-01-08 is a Monday.
inline std::int64_t local_ns(int year, int month, int day, int hour, int minute) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_isdst = -1;
  return static_cast<std::int64_t>(std::mktime(&tm)) * 1'000'000'000;
}

// The effective policy as sent: since schema 0.2 its list is named by `domainList` and
// `domains` stays empty; fetch_domain_list fills it in.
inline Effective from_wire(mp::schema::EffectivePolicy::Reader wire) {
  Effective e;
  e.station_key = wire.getStationKey();
  e.blocked = wire.getBlocked();
  e.block_message = wire.getBlockMessage();
  e.web_mode = wire.getWebMode();
  std::vector<std::string> domains;
  for (auto domain : wire.getDomains()) domains.emplace_back(domain);
  e.domains = std::move(domains);
  e.usb_locked = wire.getUsbStorageLocked();
  e.block_source = wire.getBlockSource();
  e.web_source = wire.getWebSource();
  e.usb_source = wire.getUsbSource();
  return e;
}

inline Build domain_list_fetch(std::string key, std::uint32_t offset, std::uint32_t limit = 0) {
  return [key, offset, limit](Envelope::Builder e) {
    auto body = e.initDomainListFetch();
    body.setKey(key);
    body.setOffset(offset);
    body.setLimit(limit);
  };
}

// Fetches a whole shared list page by page with `call(Build) -> Reply`.
template <typename Call>
std::vector<std::string> fetch_domain_list(Call&& call, const std::string& key) {
  std::vector<std::string> out;
  if (key.empty()) return out;
  for (;;) {
    mp::bus::Reply reply = call(domain_list_fetch(key, static_cast<std::uint32_t>(out.size())));
    EXPECT_TRUE(reply.ok() && reply.envelope().isDomainListPage()) << reply.error_text();
    if (!reply.ok() || !reply.envelope().isDomainListPage()) return out;
    auto page = reply.envelope().getDomainListPage();
    for (auto domain : page.getDomains()) out.emplace_back(domain);
    if (out.size() >= page.getTotal() || page.getDomains().size() == 0) return out;
  }
}

struct Update {
  std::uint64_t version;
  Effective effective;
  std::string list_key;  // the shared list the update names
  std::uint32_t list_count = 0;
};

// Scopes -------------------------------------------------------------------------------------

using ScopeFill = std::function<void(mp::schema::Scope::Builder)>;
inline ScopeFill all() {
  return [](mp::schema::Scope::Builder s) { s.setAll(); };
}
inline ScopeFill group(std::string name) {
  return [name](mp::schema::Scope::Builder s) { s.setGroup(name); };
}
inline ScopeFill new_stations() {
  return [](mp::schema::Scope::Builder s) { s.setNewStations(); };
}
inline ScopeFill station(std::string key) {
  return [key](mp::schema::Scope::Builder s) { s.setStation(key); };
}

// Request bodies -----------------------------------------------------------------------------

inline Build set_block(ScopeFill scope, bool blocked, std::string message = {}) {
  return [scope, blocked, message](Envelope::Builder e) {
    auto body = e.initSetBlock();
    scope(body.initScope());
    body.setBlocked(blocked);
    body.setMessage(capnp::Text::Reader(message.data(), message.size()));
  };
}

inline Build set_web_mode(ScopeFill scope, mp::schema::WebMode mode) {
  return [scope, mode](Envelope::Builder e) {
    auto body = e.initSetWebMode();
    scope(body.initScope());
    body.setMode(mode);
  };
}

inline void fill_texts(capnp::List<capnp::Text>::Builder out,
                       const std::vector<std::string>& items) {
  for (unsigned i = 0; i < items.size(); ++i) out.set(i, items[i]);
}

inline Build edit_list(ScopeFill scope, mp::schema::WebList list, std::vector<std::string> add,
                       std::vector<std::string> remove = {}, bool replace = false) {
  return [scope, list, add, remove, replace](Envelope::Builder e) {
    auto body = e.initEditWebList();
    scope(body.initScope());
    body.setList(list);
    fill_texts(body.initAdd(static_cast<unsigned>(add.size())), add);
    fill_texts(body.initRemove(static_cast<unsigned>(remove.size())), remove);
    body.setReplace(replace);
  };
}

inline Build set_usb(ScopeFill scope, bool locked) {
  return [scope, locked](Envelope::Builder e) {
    auto body = e.initSetUsbLock();
    scope(body.initScope());
    body.setLocked(locked);
  };
}

inline Build group_edit(std::string name, std::vector<std::string> stations, bool remove = false) {
  return [name, stations, remove](Envelope::Builder e) {
    auto body = e.initGroupEdit();
    body.setName(name);
    fill_texts(body.initStations(static_cast<unsigned>(stations.size())), stations);
    body.setRemove(remove);
  };
}

struct ScheduleSpec {
  ScopeFill scope = all();
  std::uint8_t days = 0b0011111;  // Mon-Fri
  std::uint16_t start = 9 * 60;
  std::uint16_t end = 12 * 60;
  // One of:
  std::optional<std::string> block;
  std::optional<mp::schema::WebMode> web_mode;
  std::vector<std::string> domains;
  bool usb_lock = false;
  std::string label;
};

inline Build schedule_add(ScheduleSpec spec) {
  return [spec](Envelope::Builder e) {
    auto schedule = e.initScheduleAdd().initSchedule();
    spec.scope(schedule.initScope());
    schedule.setDays(spec.days);
    schedule.setStartMinute(spec.start);
    schedule.setEndMinute(spec.end);
    schedule.setLabel(spec.label);
    auto action = schedule.initAction();
    if (spec.block) {
      action.setBlock(*spec.block);
    } else if (spec.web_mode) {
      auto web = action.initWeb();
      web.setMode(*spec.web_mode);
      fill_texts(web.initDomains(static_cast<unsigned>(spec.domains.size())), spec.domains);
    } else {
      action.setUsbLock();
    }
  };
}

inline Build schedule_remove(std::uint64_t id) {
  return [id](Envelope::Builder e) { e.initScheduleRemove().setId(id); };
}

inline Build snapshot_request(std::string topic = "policy", std::string cursor = {}) {
  return [topic, cursor](Envelope::Builder e) {
    auto request = e.initSnapshotRequest();
    request.setTopic(topic);
    request.setCursor(cursor);
  };
}

inline Build show_request() {
  return [](Envelope::Builder e) { e.initPolicyShowRequest(); };
}

inline Build audit_query(std::uint32_t limit = 0) {
  return [limit](Envelope::Builder e) { e.initAuditQuery().setLimit(limit); };
}

class PolicyFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    options.clock = [this] { return now_ns; };
    listener = std::make_unique<mp::bus::Client>(bus.context(), reactor, bus.endpoints(),
                                                 mp::bus::ClientOptions{.service = "listener"});
    listener->subscribe(
        "policy.effective", [this](std::string_view, const mp::bus::Incoming& event) {
          if (event.envelope().isProbe()) {
            listening = true;
            return;
          }
          auto wire = event.envelope().getEffectivePolicy();
          updates.push_back({event.header().getStateVersion(), from_wire(wire),
                             wire.getDomainList().getKey(), wire.getDomainList().getCount()});
        });
    caller = std::make_unique<mp::bus::Client>(
        bus.context(), reactor, bus.endpoints(),
        mp::bus::ClientOptions{.service = "caller", .operator_name = "alice"});
    // Subscriptions reach the broker asynchronously: probe until the listener hears.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!listening && std::chrono::steady_clock::now() < deadline) {
      caller->publish("policy.effective.probe", [](Envelope::Builder e) { e.initProbe(1); });
      reactor.run_until([this] { return listening; }, std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(listening);
    start_service();
  }

  void start_service() {
    store = std::make_unique<PolicyStore>(database());
    service = std::make_unique<PolicyService>(
        *store,
        [this](std::string_view topic, const Build& body, std::uint64_t version) {
          server->publish(topic, body, version);
        },
        options);
    server = std::make_unique<mp::bus::Client>(
        bus.context(), reactor, bus.endpoints(),
        mp::bus::ClientOptions{.service = std::string(kServiceName)});
    server->serve([this](const mp::bus::Incoming& request, Envelope::Builder reply) {
      return service->handle(request, reply);
    });
    ASSERT_TRUE(reactor.run_until([this] { return server->counters().registrations > 0; },
                                  std::chrono::seconds(5)));
    service->reevaluate();  // as main() does at start
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

  std::filesystem::path database() const { return dir / "policy.db"; }

  Reply call(const Build& body, const std::string& idempotency_key = {}) {
    return caller->call(kServiceName, body,
                        mp::bus::RequestOptions{.deadline = std::chrono::seconds(5),
                                                .idempotency_key = idempotency_key});
  }

  // Calls and expects an Ack (or another non-error reply).
  void apply(const Build& body, const std::string& idempotency_key = {}) {
    Reply reply = call(body, idempotency_key);
    ASSERT_TRUE(reply.ok()) << reply.error_text();
  }

  void expect_invalid(const Build& body, const std::string& part_of_reason) {
    Reply reply = call(body);
    ASSERT_TRUE(reply.message) << reply.error_text();
    EXPECT_EQ(reply.error_kind(), Error::Kind::INVALID) << reply.error_text();
    EXPECT_NE(reply.error_text().find(part_of_reason), std::string::npos)
        << "'" << reply.error_text() << "' does not say '" << part_of_reason << "'";
  }

  // The effective policy of every station, from a snapshot (every page; `version`: the
  // first page's, `pages`: how many).
  std::map<std::string, Effective> snapshot(std::uint64_t* version = nullptr,
                                            std::size_t* pages = nullptr) {
    std::map<std::string, Effective> out;
    std::string cursor;
    for (std::size_t page = 0;; ++page) {
      Reply reply = call(snapshot_request("policy", cursor));
      EXPECT_TRUE(reply.ok() && reply.envelope().isPolicySnapshot()) << reply.error_text();
      if (!reply.ok()) return out;
      auto snap = reply.envelope().getPolicySnapshot();
      if (version && page == 0) *version = snap.getInfo().getVersion();
      for (auto e : snap.getEffective()) {
        Effective effective = from_wire(e);
        effective.domains = fetch_domain_list([this](const Build& b) { return call(b); },
                                              e.getDomainList().getKey());
        out[e.getStationKey()] = std::move(effective);
      }
      cursor = snap.getInfo().getNextCursor();
      if (cursor.empty()) {
        if (pages) *pages = page + 1;
        return out;
      }
    }
  }

  Effective effective(const std::string& key) {
    auto all = snapshot();
    auto it = all.find(key);
    EXPECT_NE(it, all.end()) << "no effective policy for '" << key << "'";
    return it == all.end() ? Effective{} : it->second;
  }

  // Let events and subscriptions travel.
  void settle(std::chrono::milliseconds time = std::chrono::milliseconds(200)) {
    reactor.run_until([] { return false; }, time);
  }

  mp::bus::InProcessBus bus;
  mp::bus::Reactor reactor;
  mp::test::TempDir dir{"mp-policy"};
  std::int64_t now_ns = local_ns(2024, 1, 8, 8, 0);  // Monday 08:00
  PolicyServiceOptions options;
  std::unique_ptr<PolicyStore> store;
  std::unique_ptr<PolicyService> service;
  std::unique_ptr<mp::bus::Client> server;
  std::unique_ptr<mp::bus::Client> caller;
  std::unique_ptr<mp::bus::Client> listener;
  std::vector<Update> updates;
  bool listening = false;
};

}  // namespace mp::policy
