#include "session_stations.h"

#include <spdlog/spdlog.h>

#include <string>

namespace mp::policy {

namespace {

std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

}  // namespace

SessionStations::SessionStations(mp::bus::Client& client, PolicyService& service)
    : client_(client), service_(service) {
  auto info_of =
      [](const mp::bus::Incoming& page) -> std::optional<mp::schema::SnapshotResponse::Reader> {
    if (!page.envelope().isSessionSnapshot()) return std::nullopt;
    return page.envelope().getSessionSnapshot().getInfo();
  };
  // Pages one by one: 20,000 stations are never joined into one message here.
  mp::bus::Replica::Callbacks callbacks{
      .on_begin =
          [this] {
            stations_.clear();
            sessions_.clear();
          },
      .on_page =
          [this](const mp::bus::Incoming& page) {
            auto snapshot = page.envelope().getSessionSnapshot();
            for (auto station : snapshot.getStations()) take(station);
            for (auto session : snapshot.getSessions()) take(session);
          },
      .on_end =
          [this](std::uint64_t version) {
            spdlog::info("mp-session synced at version {}: {} stations, {} open sessions", version,
                         stations_.size(), sessions_.size());
            hand_over(/*complete=*/true);
          },
      .on_update =
          [this](std::string_view, const mp::bus::Incoming& update) {
            auto envelope = update.envelope();
            if (envelope.isStationUpdate()) {
              if (envelope.getStationUpdate().getRemoved()) return;
              take(envelope.getStationUpdate().getStation());
            } else if (envelope.isSessionUpdate()) {
              take(envelope.getSessionUpdate().getSession());
            } else {
              return;
            }
            hand_over_soon();
          },
  };
  replica_ = std::make_unique<mp::bus::Replica>(client, "session", "session", std::move(info_of),
                                                std::move(callbacks));
}

SessionStations::~SessionStations() {
  if (batch_timer_ != 0) client_.reactor().cancel(batch_timer_);
}

void SessionStations::take(mp::schema::Station::Reader station) {
  stations_.push_back(SeenStation{text(station.getKey()), station.getAdmitted()});
}

void SessionStations::take(mp::schema::SessionRecord::Reader session) {
  sessions_.push_back(SeenSession{.id = session.getId(),
                                  .station = text(session.getStationKey()),
                                  .ended = session.getState() == mp::schema::SessionState::ENDED,
                                  .moved_from = text(session.getMovedFrom()),
                                  .moved_at_ns = session.getMovedAtNs()});
}

void SessionStations::hand_over(bool complete) {
  if (batch_timer_ != 0) {
    client_.reactor().cancel(batch_timer_);
    batch_timer_ = 0;
  }
  auto stations = std::move(stations_);
  auto sessions = std::move(sessions_);
  stations_.clear();
  sessions_.clear();
  // Stations first: a session's station is known (and its admission) before its moves count.
  if (!stations.empty()) service_.stations_reported(stations);
  if (!sessions.empty() || complete) service_.sessions_reported(sessions, complete);
}

void SessionStations::hand_over_soon() {
  if (batch_timer_ != 0) return;
  batch_timer_ = client_.reactor().after(kBatchDelay, [this] {
    batch_timer_ = 0;
    hand_over(/*complete=*/false);
  });
}

}  // namespace mp::policy
