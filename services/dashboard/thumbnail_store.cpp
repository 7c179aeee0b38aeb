#include "thumbnail_store.h"

namespace mp::dashboard {

std::uint64_t ThumbnailStore::put(const std::string& key, std::uint8_t stream,
                                  StoredThumbnail image) {
  std::lock_guard lock(mutex_);
  image.seq = next_seq_++;
  std::uint64_t seq = image.seq;
  images_[{key, stream}] = std::move(image);
  return seq;
}

std::optional<StoredThumbnail> ThumbnailStore::get(const std::string& key,
                                                   std::uint8_t stream) const {
  std::lock_guard lock(mutex_);
  auto it = images_.find({key, stream});
  if (it == images_.end()) return std::nullopt;
  return it->second;
}

void ThumbnailStore::keep_only(
    const std::function<bool(const std::string& key, std::uint64_t session_id)>& shows) {
  std::lock_guard lock(mutex_);
  std::erase_if(images_, [&](const auto& entry) {
    return !shows(entry.first.first, entry.second.session_id);
  });
}

std::size_t ThumbnailStore::size() const {
  std::lock_guard lock(mutex_);
  return images_.size();
}

}  // namespace mp::dashboard
