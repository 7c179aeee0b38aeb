#include "state_journal.h"

#include <spdlog/spdlog.h>

#include "mp/service/idempotency.h"
#include "validation.h"
#include "wire_records.h"
#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::service::answer_retry;
using mp::service::record_reply;

constexpr std::size_t kMaxIdempotencyKeyBytes = 256;

}  // namespace

StateJournal::StateJournal(SessionStore& store, Publish publish, ChangeObserver& observer,
                           Clock clock, JournalOptions options)
    : store_(store),
      publish_(std::move(publish)),
      observer_(observer),
      clock_(std::move(clock)),
      options_(options) {
  if (store_.existed_before()) {
    // Restart path: the store is the state; transports resync their stations by themselves.
    spdlog::info("restart: {} at state version {}: {} stations, {} users, {} open sessions",
                 store_.file().string(), store_.state_version(), store_.stations().size(),
                 store_.users().size(), store_.open_sessions().size());
  } else {
    spdlog::info("fresh start: new state in {}", store_.file().string());
  }
  prune(now_ns());
}

void StateJournal::run_request(const mp::bus::Incoming& request, Envelope::Builder reply,
                               const Apply& apply) {
  std::string key = wire_text(request.header().getIdempotencyKey());
  if (auto e = check_text("idempotencyKey", key, kMaxIdempotencyKeyBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  run(key, mp::bus::body_name(request.envelope()), reply, apply);
}

void StateJournal::run(const std::string& key, const std::string& body, Envelope::Builder reply,
                       const Apply& apply) {
  Mutation m;
  m.now_ns = now_ns();
  m.idempotency_key = key;
  m.body = body;
  std::uint64_t base = 0;
  try {
    SessionStore::Transaction transaction(store_);
    if (!key.empty() && answer_retry(store_.applied_request(key), key, body, reply)) {
      return;  // nothing changes: the transaction rolls back
    }
    apply(m, reply);
    if (m.answered_later) {
      // The reply and the key come later (with the desktop); what changed on the way (the
      // station the logon attached) is versioned and published now.
      base = store_.state_version();
      if (!m.changes.empty()) store_.set_state_version(base + m.changes.size());
      transaction.commit();
    } else if (reply.isError()) {  // refused: nothing was applied, nothing to remember
      rolled_back(m);
      return;
    } else {
      base = store_.state_version();
      if (!m.changes.empty()) store_.set_state_version(base + m.changes.size());
      if (!key.empty()) store_.record_applied_request(key, record_reply(body, reply), m.now_ns);
      transaction.commit();
    }
  } catch (...) {
    rolled_back(m);
    throw;
  }
  committed(m, base);
}

void StateJournal::run_internal(const std::function<void(Mutation&)>& apply) {
  Mutation m;
  m.now_ns = now_ns();
  std::uint64_t base = 0;
  try {
    SessionStore::Transaction transaction(store_);
    apply(m);
    base = store_.state_version();
    if (!m.changes.empty()) store_.set_state_version(base + m.changes.size());
    transaction.commit();
  } catch (...) {
    rolled_back(m);
    throw;
  }
  committed(m, base);
}

void StateJournal::committed(Mutation& m, std::uint64_t base) {
  // Published only once durable: an update a subscriber saw is never lost by a crash. A crash
  // between commit and publish leaves a version gap, which makes consumers resync.
  for (std::size_t i = 0; i < m.changes.size(); ++i) publish(m.changes[i], base + i + 1);
  observer_.committed(m.changes);
  if (++mutations_since_prune_ >= options_.prune_every) prune(m.now_ns);
  for (const auto& then : m.after_commit) then();
}

void StateJournal::rolled_back(Mutation& m) {
  for (const auto& undo : m.if_rolled_back) undo();
  m.if_rolled_back.clear();
  m.after_commit.clear();
}

void StateJournal::publish(const Change& change, std::uint64_t version) {
  if (auto* station = std::get_if<Station>(&change)) {
    publish_(
        kStationTopic,
        [&](Envelope::Builder e) { fill(e.initStationUpdate().initStation(), *station); }, version);
  } else if (auto* user = std::get_if<UserChange>(&change)) {
    publish_(
        kUserTopic,
        [&](Envelope::Builder e) {
          auto update = e.initUserUpdate();
          fill(update.initUser(), user->user);
          update.setRemoved(user->removed);
        },
        version);
  } else {
    const auto& record = std::get<SessionRecord>(change);
    publish_(
        kSessionTopic,
        [&](Envelope::Builder e) { fill(e.initSessionUpdate().initSession(), record); }, version);
  }
}

void StateJournal::prune(std::int64_t now) {
  auto ttl_ns = [](std::chrono::hours h) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(h).count();
  };
  SessionStore::Transaction transaction(store_);
  store_.prune_applied_requests(now - ttl_ns(options_.applied_request_ttl),
                                options_.max_applied_requests);
  store_.delete_sessions_ended_before(now - ttl_ns(options_.ended_session_ttl));
  transaction.commit();
  mutations_since_prune_ = 0;
}

}  // namespace mp::session
