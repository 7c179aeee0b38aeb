// SessionService: mp-session's one request dispatcher, and the owner of its parts. Each part owns
// one concern and is tested alone:
//   StateJournal      every change in one transaction with its idempotency record and version,
//                     published after the commit (state_journal.h)
//   StationRegistry   attach, detach, sync, rename, admission, projection's `showing`
//   UserRegistry      users, and password checks with the logon throttle
//   SessionLifecycle  logons and sessionStart/End, timeouts, re-adoption, the desktops' events
//   DesktopStarts     logons that wait for a new desktop
//   PrivacyNotice     the notice until a user acknowledged it
//   ScreenRelay, MessageRelay   thumbnails, remote input and messages to and from the agents
//   StationCommands   projection, disconnects and applications through the transports
// Reads are snapshot_pages.h. The parts are built in dependency order, and SessionService
// passes every committed change on to the desktops and to StationCommands (which mutates state
// itself, so it can only learn of changes through the journal's observer, never by being
// handed to a part built before it).
// Testable without a process: feed it Incoming requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app_catalog.h"
#include "desktop_starts.h"
#include "desktops.h"
#include "envelope.capnp.h"
#include "message_relay.h"
#include "mp/bus/frame.h"
#include "mp/service/logon_throttle.h"
#include "password.h"
#include "privacy_notice.h"
#include "screen_relay.h"
#include "session_bus.h"
#include "session_lifecycle.h"
#include "session_store.h"
#include "state_journal.h"
#include "station_commands.h"
#include "station_registry.h"
#include "user_registry.h"

namespace mp::session {

struct SessionServiceOptions {
  // Idempotency records: forgotten after the TTL, and beyond this many.
  std::size_t max_applied_requests = 100000;
  std::chrono::hours applied_request_ttl{24};
  std::size_t prune_every = 256;  // mutations between two prunings (and one at start)
  // Ended sessions are history, not state: kept this long, then deleted.
  std::chrono::hours ended_session_ttl{24 * 30};
  // Failed logons, per user name, client address and requesting service (header.source: a
  // flood over RDP does not delay the dashboard's logons), and per address across names.
  mp::service::LogonThrottle::Options throttle;
  // A disconnected session is logged off after this long; zero: kept until log off. Counted
  // by tick() from when it first sees the session disconnected (again after a restart).
  std::chrono::seconds disconnected_timeout{0};
  // Shown in a user's sessions until they acknowledge it once; empty: no notice.
  std::string privacy_notice = kDefaultPrivacyNotice;
  // What operators may launch and close by name.
  AppCatalog apps;
  // CLOCK_REALTIME in nanoseconds; empty: the system clock. Tests inject their own.
  std::function<std::int64_t()> clock;
};

class SessionService : private ChangeObserver {
 public:
  // `desktops` runs what the records describe (SystemDesktops in mp-session); `bus` is how the
  // parts publish, answer later, ask transports and defer work.
  SessionService(SessionStore& store, const PasswordHasher& hasher, Desktops& desktops,
                 BusAccess bus, SessionServiceOptions options = {});
  SessionService(const SessionService&) = delete;
  SessionService& operator=(const SessionService&) = delete;

  // The restart path, once the bus client can publish: every session the store says is open is
  // re-adopted if its display still runs, else ended.
  void recover_desktops() { sessions_.recover_desktops(); }

  // A Client::RequestHandler: fills `reply`, or returns false for a body it does not serve.
  // A request that waits (for a desktop, for transports) leaves `reply` alone: it took its
  // Responder from BusAccess::answer_later.
  bool handle(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);

  // Called every second by main(): logs off sessions disconnected for too long.
  void tick() { sessions_.tick(); }

  // Logs off every open session (the one-shot --end-all-sessions). Returns how many.
  std::size_t end_all_sessions(const std::string& reason) { return sessions_.end_all(reason); }

  std::uint64_t state_version() { return journal_.state_version(); }
  // Desktops being started for logons that wait for them.
  std::size_t desktops_starting() const { return starts_.size(); }

 private:
  // After the journal published a commit: desktops end or move only now (a refused or failed
  // request leaves them as they were), then projection follows stations and sessions.
  void committed(const std::vector<Change>& changes) override;
  void snapshot(mp::schema::SnapshotRequest::Reader body, mp::schema::Envelope::Builder reply);

  SessionStore& store_;
  Desktops& desktops_;
  // In dependency order: each part is built after the parts it uses.
  StateJournal journal_;
  PrivacyNotice notice_;
  DesktopStarts starts_;
  StationRegistry stations_;
  UserRegistry users_;
  SessionLifecycle sessions_;
  ScreenRelay screens_;
  MessageRelay messages_;
  StationCommands commands_;
};

}  // namespace mp::session
