// How mp-session's state changes: every mutation runs in one SQLite transaction together with
// its idempotency record and the state version, and is published after the commit as numbered
// updates on "session.station", "session.user" and "session.session" (one version for all, +1
// per update). The parts of SessionService say what changes; the journal makes it durable,
// numbered, published and remembered, and tells a ChangeObserver what was committed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "envelope.capnp.h"
#include "mp/bus/frame.h"
#include "session_bus.h"
#include "session_store.h"

namespace mp::session {

struct UserChange {
  User user;
  bool removed = false;
};
// One published update.
using Change = std::variant<Station, UserChange, SessionRecord>;

// What one mutation changed, in order, and what follows from it.
struct Mutation {
  std::int64_t now_ns = 0;
  std::string idempotency_key;  // of the request, if any
  std::string body;             // the request's body name, e.g. "credentials"
  std::vector<Change> changes;
  // The request waits (for a desktop): nothing is answered or remembered now.
  bool answered_later = false;
  // Run in order once committed and published (desktop starts to launch or to abandon).
  std::vector<std::function<void()>> after_commit;
  // Run instead when nothing commits (desktop starts it began are forgotten).
  std::vector<std::function<void()>> if_rolled_back;
};

// Told of every committed change, after it was published.
class ChangeObserver {
 public:
  virtual ~ChangeObserver() = default;
  virtual void committed(const std::vector<Change>& changes) = 0;
};

struct JournalOptions {
  // Idempotency records: forgotten after the TTL, and beyond this many.
  std::size_t max_applied_requests = 100000;
  std::chrono::hours applied_request_ttl{24};
  std::size_t prune_every = 256;  // mutations between two prunings (and one at start)
  // Ended sessions are history, not state: kept this long, then deleted.
  std::chrono::hours ended_session_ttl{24 * 30};
};

class StateJournal {
 public:
  using Apply = std::function<void(Mutation&, mp::schema::Envelope::Builder reply)>;
  // CLOCK_REALTIME in nanoseconds.
  using Clock = std::function<std::int64_t()>;

  // Logs whether the store is new (fresh start) or not (restart), and prunes it once.
  StateJournal(SessionStore& store, Publish publish, ChangeObserver& observer, Clock clock,
               JournalOptions options = {});

  // A mutating request: its idempotency key checked, then run().
  void run_request(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply,
                   const Apply& apply);
  // One transaction: the retry check under `key` (a retry is answered the stored reply and
  // changes nothing), `apply`, the state version, the key with the reply, commit, then publish.
  // A reply that is an error changes nothing and is not remembered.
  void run(const std::string& key, const std::string& body, mp::schema::Envelope::Builder reply,
           const Apply& apply);
  // A change mp-session makes by itself (a desktop ended, an agent came up, a desktop is
  // stored): versioned and published like a request's.
  void run_internal(const std::function<void(Mutation&)>& apply);

  std::int64_t now_ns() const { return clock_(); }
  std::uint64_t state_version() { return store_.state_version(); }

 private:
  // After the commit: publish, tell the observer, then what the mutation asked for.
  void committed(Mutation& m, std::uint64_t base_version);
  void rolled_back(Mutation& m);
  void publish(const Change& change, std::uint64_t version);
  void prune(std::int64_t now_ns);

  SessionStore& store_;
  Publish publish_;
  ChangeObserver& observer_;
  Clock clock_;
  JournalOptions options_;
  std::uint64_t mutations_since_prune_ = 0;
};

}  // namespace mp::session
