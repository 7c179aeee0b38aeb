#include "policy_relay.h"

#include <spdlog/spdlog.h>

namespace mp::session {

namespace {

std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

// mp-policy bounds block messages itself; this only keeps a broken one off the lock screen.
constexpr std::size_t kMaxLockMessageBytes = 4096;

StationLock lock_from(mp::schema::EffectivePolicy::Reader policy) {
  StationLock lock{.locked = policy.getBlocked(), .message = text(policy.getBlockMessage())};
  if (lock.message.size() > kMaxLockMessageBytes) lock.message.resize(kMaxLockMessageBytes);
  return lock;
}

}  // namespace

PolicyRelay::PolicyRelay(mp::bus::Client& client, std::function<void()> changed)
    : changed_(std::move(changed)) {
  auto version_of = [](const mp::bus::Incoming& snapshot) -> std::uint64_t {
    if (!snapshot.envelope().isPolicySnapshot()) return 0;
    return snapshot.envelope().getPolicySnapshot().getInfo().getVersion();
  };
  mp::bus::Replica::Callbacks callbacks{
      .on_snapshot =
          [this](const mp::bus::Incoming& snapshot, std::uint64_t version) {
            if (!snapshot.envelope().isPolicySnapshot()) {
              spdlog::error("'policy' answered the snapshot with {}",
                            mp::bus::body_name(snapshot.envelope()));
              return;
            }
            std::map<std::string, StationLock> locks;
            for (auto policy : snapshot.envelope().getPolicySnapshot().getEffective()) {
              locks[text(policy.getStationKey())] = lock_from(policy);
            }
            bool differs = locks != locks_;
            locks_ = std::move(locks);
            spdlog::info("policy synced at version {}: {} entries", version, locks_.size());
            if (differs && changed_) changed_();
          },
      .on_update =
          [this](std::string_view topic, const mp::bus::Incoming& update) {
            if (topic != "policy.effective" || !update.envelope().isEffectivePolicy()) return;
            auto policy = update.envelope().getEffectivePolicy();
            StationLock lock = lock_from(policy);
            auto& slot = locks_[text(policy.getStationKey())];
            if (slot == lock) return;
            slot = lock;
            if (changed_) changed_();
          },
  };
  replica_ = std::make_unique<mp::bus::Replica>(client, "policy", "policy", std::move(version_of),
                                                std::move(callbacks));
}

StationLock PolicyRelay::lock_of(const std::string& station_key) const {
  if (auto it = locks_.find(station_key); it != locks_.end()) return it->second;
  if (auto it = locks_.find(""); it != locks_.end()) return it->second;
  return {};
}

}  // namespace mp::session
