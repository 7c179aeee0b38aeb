#include "thumbnail_streams.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>

namespace mp::agent {

namespace {

using namespace std::chrono;

// The agent's own bounds, whatever mp-session asks: grabbing is the expensive part.
constexpr std::uint8_t kMaxStream = 1;
constexpr std::uint32_t kMinIntervalMs = 100;
constexpr int kMinWidth = 32;
constexpr int kMaxWidth = 1920;
constexpr std::uint32_t kMinBytes = 1024;
constexpr std::uint32_t kMaxBytes = 256 * 1024;
constexpr std::uint32_t kMaxLeaseMs = 60000;

std::int64_t realtime_ns() {
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

ThumbnailStreams::ThumbnailStreams(mp::bus::Reactor& reactor, GrabScreen grab,
                                   std::function<bool(const mp::bus::Build&)> send)
    : reactor_(reactor), grab_(std::move(grab)), send_(std::move(send)) {}

ThumbnailStreams::~ThumbnailStreams() {
  for (auto& [id, stream] : streams_) reactor_.cancel(stream.timer);
}

void ThumbnailStreams::request(mp::schema::AgentThumbnailRequest::Reader request) {
  std::uint8_t id = request.getStream();
  if (id > kMaxStream || request.getLeaseMs() > kMaxLeaseMs) {
    ++counters_.refused;
    spdlog::warn("thumbnail request refused: stream {}, lease {} ms", id, request.getLeaseMs());
    return;
  }
  if (request.getLeaseMs() == 0) {
    stop(id);
    return;
  }
  milliseconds interval(std::max(request.getIntervalMs(), kMinIntervalMs));
  int width = std::clamp<int>(request.getWidth(), kMinWidth, kMaxWidth);
  std::size_t max_bytes = std::clamp(request.getMaxBytes(), kMinBytes, kMaxBytes);
  bool fresh = !streams_.contains(id);
  Stream& stream = streams_[id];
  stream.lease_end = steady_clock::now() + milliseconds(request.getLeaseMs());
  if (!fresh && stream.interval == interval && stream.width == width &&
      stream.max_bytes == max_bytes) {
    return;  // a renewal
  }
  spdlog::info("thumbnail stream {}: {} px wide, every {} ms, at most {} bytes", id, width,
               interval.count(), max_bytes);
  reactor_.cancel(stream.timer);
  stream.interval = interval;
  stream.width = stream.fitted_width = width;
  stream.max_bytes = max_bytes;
  stream.unsent = true;  // a changed stream sends its first image whatever it shows
  stream.timer = reactor_.every(interval, [this, id] { capture(id); });
  capture(id);
}

void ThumbnailStreams::stop(std::uint8_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  reactor_.cancel(it->second.timer);
  streams_.erase(it);
  spdlog::info("thumbnail stream {}: stopped", id);
}

void ThumbnailStreams::capture(std::uint8_t id) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return;
  Stream& stream = it->second;
  auto now = steady_clock::now();
  if (now >= stream.lease_end) {
    stop(id);  // nobody renewed: nobody watches
    return;
  }
  ScreenImage screen;
  if (!grab_(&screen)) {
    ++counters_.grab_failed;
    return;
  }
  std::int64_t captured_at = realtime_ns();
  bool resend_due = now - stream.last_sent >= kResendUnchanged;
  if (screen.version != 0 && screen.version == stream.picture_version && !stream.unsent &&
      !resend_due) {
    ++counters_.unchanged;
    ++counters_.not_looked;
    return;
  }
  if (update_picture(stream, screen)) stream.unsent = true;
  const RgbImage& picture = stream.picture;
  if (!stream.unsent && !resend_due) {
    ++counters_.unchanged;
    return;
  }
  std::string jpeg = encode_within(encoder_, picture, stream.max_bytes, &stream.quality);
  if (jpeg.empty()) {
    // Too busy a screen for the limit even at the lowest quality: a smaller image next time.
    ++counters_.too_large;
    stream.fitted_width = std::max(kMinWidth, picture.width * 3 / 4);
    return;
  }
  bool sent = send_([&](mp::schema::Envelope::Builder e) {
    auto image = e.initAgentThumbnail();
    image.setStream(id);
    image.setJpeg(kj::arrayPtr(reinterpret_cast<const kj::byte*>(jpeg.data()), jpeg.size()));
    image.setWidth(static_cast<std::uint16_t>(picture.width));
    image.setHeight(static_cast<std::uint16_t>(picture.height));
    image.setCapturedAtNs(captured_at);
  });
  if (!sent) {
    ++counters_.not_sent;
    return;
  }
  ++counters_.sent;
  stream.unsent = false;
  stream.last_sent = now;
}

bool ThumbnailStreams::update_picture(Stream& stream, const ScreenImage& screen) {
  int top = 0, bottom = 0;
  int width = std::clamp(stream.fitted_width, 1, std::max(screen.width, 1));
  bool same_shape = !stream.picture.rgb.empty() && stream.source_width == screen.width &&
                    stream.source_height == screen.height && stream.picture.width == width;
  bool changed = false;
  if (!same_shape) {
    scale_to_width(screen, stream.fitted_width, &stream.picture);
    changed = true;
  } else if (screen.version == 0 || screen.changes == nullptr ||
             !screen.changes->since(stream.picture_version, screen.version, &top, &bottom)) {
    changed = scale_rows(screen, 0, screen.height, &stream.picture);
  } else if (bottom > top) {
    changed = scale_rows(screen, top, bottom, &stream.picture);
    ++counters_.partly_scaled;
  }
  stream.picture_version = screen.version;
  stream.source_width = screen.width;
  stream.source_height = screen.height;
  return changed;
}

}  // namespace mp::agent
