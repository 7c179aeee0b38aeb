#include "mp/bus/replica.h"

#include <spdlog/spdlog.h>

#include <stdexcept>

#include "mp/bus/joined_pages.h"

namespace mp::bus {

using mp::schema::Envelope;

namespace {

// A page is built from the authority's store; this is far more than any takes.
constexpr std::chrono::milliseconds kPageDeadline{5000};

}  // namespace

Replica::Replica(Client& client, std::string authority, std::string topic, InfoOf info_of,
                 Callbacks callbacks)
    : client_(client),
      authority_(std::move(authority)),
      topic_(std::move(topic)),
      info_of_(std::move(info_of)),
      callbacks_(std::move(callbacks)) {
  bool paged = callbacks_.on_begin || callbacks_.on_page || callbacks_.on_end;
  bool whole = static_cast<bool>(callbacks_.on_snapshot);
  if (paged == whole || (paged && !(callbacks_.on_page && callbacks_.on_end))) {
    throw std::invalid_argument(
        "Replica: set either on_page and on_end (on_begin optional), or on_snapshot");
  }
  if (!info_of_) throw std::invalid_argument("Replica: info_of is required");
}

Replica::~Replica() {
  lifeline_.reset();
  if (retry_timer_ != 0) client_.reactor().cancel(retry_timer_);
}

void Replica::start() {
  std::weak_ptr<Replica*> self = lifeline_;
  // Subscribe first, so no update falls between the snapshot and the stream.
  client_.subscribe(topic_ + ".", [self](std::string_view topic, const Incoming& update) {
    if (auto alive = self.lock()) (*alive)->on_update(topic, update);
  });
  client_.subscribe("bus.presence", [self](std::string_view, const Incoming& event) {
    auto alive = self.lock();
    if (!alive) return;
    Replica& replica = **alive;
    auto presence = event.envelope().getPresence();
    if (presence.getService() != replica.authority_) return;
    if (presence.getState() != mp::schema::Presence::State::UP) return;
    if (presence.getIncarnation() == replica.authority_incarnation_) return;
    replica.authority_incarnation_ = presence.getIncarnation();
    // The authority restarted: what it published while we were not looking is in its store.
    spdlog::info("'{}' is up with a new incarnation: resyncing '{}'", replica.authority_,
                 replica.topic_);
    replica.resync();
  });
  resync();
}

void Replica::resync() {
  ++generation_;
  ++resyncs_;
  synced_ = false;
  paging_ = true;
  kept_pages_.clear();
  if (retry_timer_ != 0) {
    client_.reactor().cancel(retry_timer_);
    retry_timer_ = 0;
  }
  request_page({});
}

void Replica::request_page(const std::string& cursor) {
  std::weak_ptr<Replica*> self = lifeline_;
  std::uint64_t generation = generation_;
  client_.request(
      authority_,
      [&](Envelope::Builder e) {
        auto request = e.initSnapshotRequest();
        request.setTopic(topic_);
        request.setCursor(cursor);
      },
      RequestOptions{.deadline = kPageDeadline},
      [self, generation, cursor](Reply reply) {
        auto alive = self.lock();
        if (!alive) return;
        Replica& replica = **alive;
        // A reply to a resync that was started over is stale: its pages may be of another state.
        if (generation != replica.generation_ || !replica.paging_) return;
        replica.on_page_reply(cursor, std::move(reply));
      });
}

void Replica::on_page_reply(const std::string& cursor, Reply reply) {
  if (!reply.ok()) return retry_later(reply.error_text());
  auto info = info_of_(*reply.message);
  if (!info) return retry_later("answered with " + body_name(reply.envelope()));
  std::uint64_t version = info->getVersion();
  std::string next(info->getNextCursor().begin(), info->getNextCursor().size());
  std::uint64_t incarnation = reply.message->header().getIncarnation();
  bool first = cursor.empty();
  if (first) {
    first_version_ = version;
    paging_incarnation_ = incarnation;
    authority_incarnation_ = incarnation;
  } else if (incarnation != paging_incarnation_ || version < first_version_) {
    // Pages of two incarnations (or of a state that went back) do not make one state.
    spdlog::info("'{}' restarted between two pages of '{}': resyncing", authority_, topic_);
    authority_incarnation_ = incarnation;
    return resync();
  }
  if (!next.empty() && next == cursor) return retry_later("the page's next cursor is its own");
  ++pages_;
  std::uint64_t generation = generation_;
  try {
    if (callbacks_.on_snapshot) {
      kept_pages_.push_back(std::move(*reply.message));
    } else {
      if (first && callbacks_.on_begin) callbacks_.on_begin();
      callbacks_.on_page(*reply.message);
    }
  } catch (const std::exception& e) {
    return retry_later(std::string("a page could not be applied: ") + e.what());
  } catch (const kj::Exception& e) {
    return retry_later(std::string("a page could not be read: ") + e.getDescription().cStr());
  }
  // A consumer that ran the reactor (a blocking call) may have seen a resync start meanwhile.
  if (generation != generation_) return;
  if (!next.empty()) return request_page(next);
  finish_resync();
}

void Replica::retry_later(const std::string& why) {
  spdlog::warn("snapshot of '{}' from '{}' failed ({}); starting again", topic_, authority_, why);
  paging_ = false;
  kept_pages_.clear();
  if (retry_timer_ != 0) client_.reactor().cancel(retry_timer_);
  std::weak_ptr<Replica*> self = lifeline_;
  retry_timer_ = client_.reactor().after(kRetryDelay, [self] {
    if (auto alive = self.lock()) {
      (*alive)->retry_timer_ = 0;
      (*alive)->resync();
    }
  });
}

void Replica::finish_resync() {
  std::uint64_t version = first_version_;
  std::uint64_t generation = generation_;
  try {
    if (callbacks_.on_snapshot) {
      Incoming whole = join_pages(kept_pages_);
      kept_pages_.clear();
      callbacks_.on_snapshot(whole, version);
    } else {
      callbacks_.on_end(version);
    }
  } catch (const std::exception& e) {
    return retry_later(std::string("the snapshot could not be applied: ") + e.what());
  } catch (const kj::Exception& e) {
    return retry_later(std::string("the snapshot could not be read: ") + e.getDescription().cStr());
  }
  if (generation != generation_) return;  // started over meanwhile (see on_page_reply)
  paging_ = false;
  version_ = version;
  synced_ = true;
  // Updates above the first page's version, in order (see the header for why this is right).
  std::deque<std::pair<std::string, Incoming>> buffered;
  buffered.swap(buffered_);
  for (auto& [topic, update] : buffered) on_update(topic, update);
}

void Replica::on_update(std::string_view topic, const Incoming& update) {
  std::uint64_t version = update.header().getStateVersion();
  if (!synced_) {
    if (buffered_.size() < kMaxBuffered) buffered_.emplace_back(std::string(topic), update.clone());
    return;
  }
  if (version <= version_) return;  // already in the snapshot
  if (version != version_ + 1) {
    spdlog::info("'{}' jumped from version {} to {}: resyncing", topic_, version_, version);
    resync();
    return;
  }
  version_ = version;
  callbacks_.on_update(topic, update);
}

}  // namespace mp::bus
