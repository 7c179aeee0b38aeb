#include "projection_feed.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include <freerdp/codec/color.h>

#include "remotefx_encoder.h"
#include "x_connection.h"

namespace mp::rdp {

using Clock = std::chrono::steady_clock;

ProjectionFeed::ProjectionFeed(const std::string& display, const std::string& xauthority,
                               int max_fps)
    : display_(display),
      period_(std::chrono::duration_cast<Clock::duration>(
          std::chrono::duration<double>(1.0 / std::clamp(max_fps, 1, 120)))) {
  x_ = std::make_unique<XConnection>(display, xauthority);
  capture_ = std::make_unique<ScreenCapture>(*x_);
  width_ = capture_->width();
  height_ = capture_->height();
  encoder_ = std::make_unique<RemoteFxEncoder>(width_, height_);
  // NSCodec as SurfaceEncoder sets it up: exact colours.
  nsc_ = nsc_context_new();
  nsc_stream_ = Stream_New(nullptr, 65536);
  if (nsc_ == nullptr || nsc_stream_ == nullptr ||
      !nsc_context_reset(nsc_, static_cast<UINT32>(width_), static_cast<UINT32>(height_)) ||
      !nsc_context_set_parameters(nsc_, NSC_COLOR_LOSS_LEVEL, 1) ||
      !nsc_context_set_parameters(nsc_, NSC_ALLOW_SUBSAMPLING, FALSE) ||
      !nsc_context_set_parameters(nsc_, NSC_DYNAMIC_COLOR_FIDELITY, FALSE) ||
      !nsc_context_set_parameters(nsc_, NSC_COLOR_FORMAT, PIXEL_FORMAT_BGRX32)) {
    if (nsc_) nsc_context_free(nsc_);
    if (nsc_stream_) Stream_Free(nsc_stream_, TRUE);
    throw std::runtime_error("NSCodec encoder setup failed");
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw std::runtime_error("eventfd failed");
  thread_ = std::thread([this] { run(); });
  spdlog::info("projection of {} ({}x{}) starts", display_, width_, height_);
}

ProjectionFeed::~ProjectionFeed() {
  stop_ = true;
  wake_thread();
  if (thread_.joinable()) thread_.join();
  // X resources on the thread that ends them now that the feed's thread is gone.
  encoder_.reset();
  capture_.reset();
  x_.reset();
  nsc_context_free(nsc_);
  Stream_Free(nsc_stream_, TRUE);
  if (wake_fd_ >= 0) ::close(wake_fd_);
  spdlog::info("projection of {} ends", display_);
}

void ProjectionFeed::wake_thread() {
  std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(wake_fd_, &one, sizeof(one));
}

std::uint64_t ProjectionFeed::watch(HANDLE wake, FeedCodec codec) {
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_watcher_++;
    watchers_[id] = Watcher{.wake = wake, .codec = codec};
    refresh_.push_back({0, 0, width_, height_});
  }
  wake_thread();
  return id;
}

void ProjectionFeed::unwatch(std::uint64_t watcher) {
  std::lock_guard lock(mutex_);
  watchers_.erase(watcher);
}

bool ProjectionFeed::has_frame(std::uint64_t watcher) {
  std::lock_guard lock(mutex_);
  auto it = watchers_.find(watcher);
  return it != watchers_.end() && it->second.waiting != nullptr;
}

std::shared_ptr<const EncodedFrame> ProjectionFeed::take(std::uint64_t watcher) {
  std::lock_guard lock(mutex_);
  auto it = watchers_.find(watcher);
  if (it == watchers_.end()) return nullptr;
  return std::exchange(it->second.waiting, nullptr);
}

void ProjectionFeed::refresh(const Rect& area) {
  {
    std::lock_guard lock(mutex_);
    refresh_.push_back(area);
  }
  wake_thread();
}

void ProjectionFeed::publish(std::shared_ptr<const EncodedFrame> frame) {
  std::lock_guard lock(mutex_);
  for (auto& [id, watcher] : watchers_) {
    // A frame this watcher never took: what it covered goes into the next frame again.
    if (watcher.waiting) {
      for (const auto& area : watcher.waiting->areas) capture_->invalidate(area);
    }
    watcher.waiting = frame;
    SetEvent(watcher.wake);
  }
}

void ProjectionFeed::run() {
  Clock::time_point last_frame{};
  while (!stop_) {
    bool watched = false, want_remotefx = false, want_nscodec = false;
    {
      std::lock_guard lock(mutex_);
      for (const auto& area : refresh_) capture_->invalidate(area);
      refresh_.clear();
      watched = !watchers_.empty();
      for (const auto& [id, watcher] : watchers_) {
        (watcher.codec == FeedCodec::remotefx ? want_remotefx : want_nscodec) = true;
      }
    }
    int timeout_ms = 1000;
    auto now = Clock::now();
    if (watched && capture_->has_damage()) {
      if (now >= last_frame + period_) {
        auto areas = capture_->grab();
        if (!areas.empty()) {
          auto frame = std::make_shared<EncodedFrame>();
          bool ok = true;
          if (want_remotefx) {
            encoder_->send_headers_again();
            ok = encoder_->encode(capture_->frame(), capture_->stride(), areas, kMaxMessageBytes,
                                  [&](const std::uint8_t* data, std::size_t size, bool, bool) {
                                    frame->remotefx.emplace_back(data, data + size);
                                    return true;
                                  });
          }
          if (want_nscodec) encode_nscodec(areas, *frame);
          if (ok && (!frame->remotefx.empty() || !frame->nscodec.empty())) {
            frame->areas = std::move(areas);
            publish(std::move(frame));
          }
          auto on_grid = last_frame + period_;
          last_frame = now - on_grid < period_ ? on_grid : now;
        }
        continue;
      }
      timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(last_frame + period_ - now)
              .count() +
          1);
    }
    pollfd fds[2] = {{capture_->fd(), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    ::poll(fds, 2, timeout_ms);
    if (fds[1].revents & POLLIN) {
      std::uint64_t count;
      [[maybe_unused]] auto read = ::read(wake_fd_, &count, sizeof(count));
    }
    capture_->process_events();
    if (x_->broken()) {
      spdlog::warn("projection: display {} went away", display_);
      broken_ = true;
      std::lock_guard lock(mutex_);
      for (auto& [id, watcher] : watchers_) SetEvent(watcher.wake);
      return;
    }
  }
}

void ProjectionFeed::encode_nscodec(const std::vector<Rect>& areas, EncodedFrame& frame) {
  // The library does not split its output: bands of rows that fit one request each.
  constexpr std::size_t kHeaderReserve = 2048;
  for (const auto& a : areas) {
    std::size_t row_bytes = static_cast<std::size_t>(a.width) * 4;
    int rows =
        static_cast<int>(std::max<std::size_t>(1, (kMaxMessageBytes - kHeaderReserve) / row_bytes));
    for (int y = a.y; y < a.y + a.height; y += rows) {
      Rect band{a.x, y, a.width, std::min(rows, a.y + a.height - y)};
      Stream_SetPosition(nsc_stream_, 0);
      const std::uint8_t* origin =
          capture_->frame() + static_cast<std::size_t>(band.y) * capture_->stride() + band.x * 4;
      if (!nsc_compose_message(nsc_, nsc_stream_, origin, static_cast<UINT32>(band.width),
                               static_cast<UINT32>(band.height),
                               static_cast<UINT32>(capture_->stride()))) {
        continue;
      }
      const std::uint8_t* bytes = Stream_Buffer(nsc_stream_);
      frame.nscodec.push_back({band, {bytes, bytes + Stream_GetPosition(nsc_stream_)}});
    }
  }
}

std::shared_ptr<ProjectionFeed> FeedRegistry::acquire(const std::string& display,
                                                      const std::string& xauthority) {
  std::lock_guard lock(mutex_);
  if (auto feed = feeds_[display].lock(); feed && !feed->broken()) return feed;
  auto feed = std::make_shared<ProjectionFeed>(display, xauthority, max_fps_);
  feeds_[display] = feed;
  std::erase_if(feeds_, [](const auto& entry) { return entry.second.expired(); });
  return feed;
}

}  // namespace mp::rdp
