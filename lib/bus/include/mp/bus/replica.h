// The consumer half of state resync (zguide Clone): subscribe to the authority's numbered
// updates first, then take a snapshot, drop updates the snapshot covers, apply the rest in
// order. A gap in versions, or the authority coming back with a new incarnation, starts a
// fresh resync.
//
// Snapshots come in pages (SnapshotRequest.cursor / SnapshotResponse.nextCursor), so a state of
// any size crosses the bus in messages well under its limit: the replica asks page after page
// until `nextCursor` is empty, buffers the updates that arrive meanwhile, hands the consumer
// every page, and then replays the buffered updates with a version above the FIRST page's.
// Why that is right: each page is the authority's state at its own version (v1 <= v2 <= ...),
// and updates carry whole records (set this record / remove it), not differences. A record
// changed after v1 is either in a later page already (then replaying the update sets it to a
// value it had, and every later update to it is replayed too, in order, ending at its newest
// value) or in an earlier page (then the replay brings it up to date). A record added or
// removed between two pages is added or removed by its replayed update, whichever side of the
// cursor it sits on. So pages + updates above v1 = the authority's state, as long as every
// consumer applies an update as "the record is now this", which all of them do.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mp/bus/client.h"

namespace mp::bus {

class Replica {
 public:
  using UpdateHandler = std::function<void(std::string_view topic, const Incoming& update)>;

  // Two ways to take the snapshot; set one of them (page by page, or whole), and on_update.
  struct Callbacks {
    // Page by page: a resync begins (the consumer starts a new state; it may keep serving the
    // old one until on_end), then every page in cursor order, then on_end with the first page's
    // version: the pages together are the whole state (a record in no page is gone).
    std::function<void()> on_begin;
    std::function<void(const Incoming& page)> on_page;
    std::function<void(std::uint64_t version)> on_end;
    // Whole: the pages joined into one body (mp/bus/joined_pages.h), handed over once the last
    // page arrived; `version` is the first page's. Simple for consumers that replace their
    // state at once; costs the whole state twice in memory for a moment.
    std::function<void(const Incoming& snapshot, std::uint64_t version)> on_snapshot;
    // One update with header.stateVersion == previous version + 1.
    UpdateHandler on_update;
  };
  // The SnapshotResponse inside one of the authority's pages (e.g. its sessionSnapshot's
  // `info`); nullopt when the body is not the authority's snapshot.
  using InfoOf =
      std::function<std::optional<mp::schema::SnapshotResponse::Reader>(const Incoming& page)>;

  // `topic` is both the snapshot topic and the update topic prefix (e.g. "session").
  // Throws std::invalid_argument unless exactly one way to take the snapshot is set.
  Replica(Client& client, std::string authority, std::string topic, InfoOf info_of,
          Callbacks callbacks);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  void start();
  bool synced() const { return synced_; }
  std::uint64_t version() const { return version_; }
  // Resyncs begun (the first one included).
  std::uint64_t resyncs() const { return resyncs_; }
  // Pages received in all resyncs.
  std::uint64_t pages() const { return pages_; }

  // Between pages: how long to wait before asking again after a failed page.
  static constexpr std::chrono::milliseconds kRetryDelay{500};
  // Updates kept while not synced; beyond this they are dropped, and the gap resyncs again.
  static constexpr std::size_t kMaxBuffered = 100000;

 private:
  // Starts a resync from the first page; a page still in flight is ignored when it arrives.
  void resync();
  void request_page(const std::string& cursor);
  void on_page_reply(const std::string& cursor, Reply reply);
  void retry_later(const std::string& why);
  void finish_resync();
  void on_update(std::string_view topic, const Incoming& update);

  Client& client_;
  std::string authority_;
  std::string topic_;
  InfoOf info_of_;
  Callbacks callbacks_;
  bool synced_ = false;
  std::uint64_t version_ = 0;
  std::uint64_t authority_incarnation_ = 0;
  std::uint64_t resyncs_ = 0;
  std::uint64_t pages_ = 0;
  // The resync in progress: its number (replies of older ones are dropped), the first page's
  // version and the authority incarnation that answered it, the pages kept for on_snapshot.
  std::uint64_t generation_ = 0;
  bool paging_ = false;
  std::uint64_t first_version_ = 0;
  std::uint64_t paging_incarnation_ = 0;
  std::vector<Incoming> kept_pages_;
  Reactor::TimerId retry_timer_ = 0;
  std::deque<std::pair<std::string, Incoming>> buffered_;
  // Replies and timers reach the Replica through this; it expires with the Replica.
  std::shared_ptr<Replica*> lifeline_ = std::make_shared<Replica*>(this);
};

}  // namespace mp::bus
