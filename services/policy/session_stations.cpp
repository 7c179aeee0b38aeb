#include "session_stations.h"

#include <string>
#include <vector>

namespace mp::policy {

SessionStations::SessionStations(mp::bus::Client& client, PolicyService& service)
    : service_(service) {
  auto version_of = [](const mp::bus::Incoming& snapshot) -> std::uint64_t {
    auto envelope = snapshot.envelope();
    if (!envelope.isSessionSnapshot()) return 0;
    return envelope.getSessionSnapshot().getInfo().getVersion();
  };
  mp::bus::Replica::Callbacks callbacks{
      .on_snapshot =
          [this](const mp::bus::Incoming& snapshot, std::uint64_t) {
            auto envelope = snapshot.envelope();
            if (!envelope.isSessionSnapshot()) return;
            std::vector<std::string> keys;
            for (auto station : envelope.getSessionSnapshot().getStations()) {
              keys.emplace_back(station.getKey().begin(), station.getKey().size());
            }
            service_.stations_seen(keys);
          },
      .on_update =
          [this](std::string_view, const mp::bus::Incoming& update) {
            auto envelope = update.envelope();
            if (!envelope.isStationUpdate()) return;
            auto key = envelope.getStationUpdate().getStation().getKey();
            service_.stations_seen({std::string(key.begin(), key.size())});
          },
  };
  replica_ = std::make_unique<mp::bus::Replica>(client, "session", "session", std::move(version_of),
                                                std::move(callbacks));
}

}  // namespace mp::policy
