#include "mp/bus/replica.h"

#include <spdlog/spdlog.h>

namespace mp::bus {

using mp::schema::Envelope;

Replica::Replica(Client& client, std::string authority, std::string topic,
                 std::function<std::uint64_t(const Incoming&)> version_of, Callbacks callbacks)
    : client_(client),
      authority_(std::move(authority)),
      topic_(std::move(topic)),
      version_of_(std::move(version_of)),
      callbacks_(std::move(callbacks)) {}

void Replica::start() {
  // Subscribe first, so no update falls between the snapshot and the stream.
  client_.subscribe(topic_ + ".", [this](std::string_view topic, const Incoming& update) {
    on_update(topic, update);
  });
  client_.subscribe("bus.presence", [this](std::string_view, const Incoming& event) {
    auto presence = event.envelope().getPresence();
    if (presence.getService() != authority_) return;
    if (presence.getState() != mp::schema::Presence::State::UP) return;
    if (presence.getIncarnation() == authority_incarnation_) return;
    authority_incarnation_ = presence.getIncarnation();
    // The authority restarted: what it published while we were not looking is in its store.
    synced_ = false;
    request_snapshot();
  });
  request_snapshot();
}

void Replica::request_snapshot() {
  if (snapshot_in_flight_) return;
  snapshot_in_flight_ = true;
  ++resyncs_;
  client_.request(
      authority_, [this](Envelope::Builder e) { e.initSnapshotRequest().setTopic(topic_); },
      RequestOptions{},
      [this](Reply reply) {
        snapshot_in_flight_ = false;
        if (!reply.ok()) {
          spdlog::warn("snapshot of '{}' from '{}' failed ({}); retrying", topic_, authority_,
                       reply.error_text());
          client_.reactor().after(std::chrono::milliseconds(500), [this] { request_snapshot(); });
          return;
        }
        version_ = version_of_(*reply.message);
        callbacks_.on_snapshot(*reply.message, version_);
        synced_ = true;
        std::deque<std::pair<std::string, Incoming>> buffered;
        buffered.swap(buffered_);
        for (auto& [topic, update] : buffered) on_update(topic, update);
      });
}

void Replica::on_update(std::string_view topic, const Incoming& update) {
  std::uint64_t version = update.header().getStateVersion();
  if (!synced_) {
    if (buffered_.size() < 100000) buffered_.emplace_back(std::string(topic), update.clone());
    return;
  }
  if (version <= version_) return;  // already in the snapshot
  if (version != version_ + 1) {
    spdlog::info("'{}' jumped from version {} to {}: resyncing", topic_, version_, version);
    synced_ = false;
    request_snapshot();
    return;
  }
  version_ = version;
  callbacks_.on_update(topic, update);
}

}  // namespace mp::bus
