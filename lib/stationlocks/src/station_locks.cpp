#include "mp/stationlocks/station_locks.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

namespace mp::stationlocks {

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

StationLocks::StationLocks(mp::bus::Client& client, Changed changed,
                           std::filesystem::path cache_file)
    : changed_(std::move(changed)), cache_file_(std::move(cache_file)) {
  load_cache();
  auto info_of =
      [](const mp::bus::Incoming& page) -> std::optional<mp::schema::SnapshotResponse::Reader> {
    if (!page.envelope().isPolicySnapshot()) return std::nullopt;
    return page.envelope().getPolicySnapshot().getInfo();
  };
  mp::bus::Replica::Callbacks callbacks{
      .on_begin = [this] { incoming_.clear(); },
      .on_page =
          [this](const mp::bus::Incoming& page) {
            for (auto policy : page.envelope().getPolicySnapshot().getEffective()) {
              incoming_[text(policy.getStationKey())] = lock_from(policy);
            }
          },
      .on_end =
          [this](std::uint64_t version) {
            bool differs = incoming_ != locks_;
            locks_ = std::move(incoming_);
            incoming_.clear();
            spdlog::info("policy synced at version {}: {} entries", version, locks_.size());
            if (differs) save_cache();
            if (differs && changed_) changed_({}, true);
          },
      .on_update =
          [this](std::string_view topic, const mp::bus::Incoming& update) {
            if (topic != "policy.effective" || !update.envelope().isEffectivePolicy()) return;
            auto policy = update.envelope().getEffectivePolicy();
            StationLock lock = lock_from(policy);
            std::string key = text(policy.getStationKey());
            auto& slot = locks_[key];
            if (slot == lock) return;
            slot = lock;
            save_cache();
            if (changed_) changed_({key}, key.empty());
          },
  };
  replica_ = std::make_unique<mp::bus::Replica>(client, "policy", "policy", std::move(info_of),
                                                std::move(callbacks));
}

// The cache: one line per blocked station, "<key>\t<message>" (keys have no tabs or newlines;
// messages have them replaced). Only blocks matter: everything else is unlocked by default.
void StationLocks::load_cache() {
  if (cache_file_.empty()) return;
  std::ifstream in(cache_file_);
  std::string line;
  std::size_t count = 0;
  while (std::getline(in, line) && count < 100000) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    StationLock lock{.locked = true, .message = line.substr(tab + 1)};
    if (lock.message.size() > kMaxLockMessageBytes) lock.message.resize(kMaxLockMessageBytes);
    locks_[line.substr(0, tab)] = std::move(lock);
    ++count;
  }
  if (count > 0) spdlog::info("{} blocked stations remembered until mp-policy answers", count);
}

void StationLocks::save_cache() const {
  if (cache_file_.empty()) return;
  std::ostringstream out;
  for (const auto& [key, lock] : locks_) {
    if (!lock.locked || key.find_first_of("\t\n") != std::string::npos) continue;
    std::string message = lock.message;
    for (char& c : message) {
      if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    }
    out << key << '\t' << message << '\n';
  }
  auto temporary = cache_file_;
  temporary += ".new";
  {
    std::ofstream file(temporary, std::ios::trunc);
    file << out.str();
    if (!file.flush()) {
      spdlog::warn("cannot write {}", temporary.string());
      return;
    }
  }
  chmod(temporary.c_str(), 0600);
  std::error_code ec;
  std::filesystem::rename(temporary, cache_file_, ec);
  if (ec) spdlog::warn("cannot replace {}: {}", cache_file_.string(), ec.message());
}

StationLock StationLocks::lock_of(const std::string& station_key) const {
  if (auto it = locks_.find(station_key); it != locks_.end()) return it->second;
  if (auto it = locks_.find(""); it != locks_.end()) return it->second;
  return {};
}

}  // namespace mp::stationlocks
