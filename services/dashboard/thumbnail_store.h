// The newest screen image of every watched station, kept for the browsers: written on the bus
// thread as images arrive (thumbnail.<station> events), read by HTTP threads serving
// GET /api/stations/KEY/thumbnail.jpg. An image belongs to the session it shows: when the
// station's session changes or ends, its images go. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace mp::dashboard {

struct StoredThumbnail {
  std::string jpeg;
  std::uint64_t seq = 0;  // increases with every image stored (any station)
  int width = 0;
  int height = 0;
  std::int64_t captured_at_ns = 0;
  std::uint64_t session_id = 0;
};

class ThumbnailStore {
 public:
  // Keeps `image` as the newest of (station, stream); returns its sequence number.
  std::uint64_t put(const std::string& key, std::uint8_t stream, StoredThumbnail image);
  std::optional<StoredThumbnail> get(const std::string& key, std::uint8_t stream) const;
  // Drops every image whose station no longer shows the session it was taken of.
  void keep_only(
      const std::function<bool(const std::string& key, std::uint64_t session_id)>& shows);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::uint8_t>, StoredThumbnail> images_;
  std::uint64_t next_seq_ = 1;
};

}  // namespace mp::dashboard
