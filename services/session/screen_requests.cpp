#include "screen_requests.h"

#include <string>

#include "validation.h"

namespace mp::session {

namespace {

std::string out_of_range(const char* field, std::uint64_t value, std::uint64_t low,
                         std::uint64_t high) {
  return std::string(field) + " " + std::to_string(value) + " is outside " + std::to_string(low) +
         ".." + std::to_string(high);
}

}  // namespace

std::string read_thumbnail_watch(mp::schema::ThumbnailWatch::Reader watch, ThumbnailRequest* out) {
  if (watch.getStream() > kMaxStream) {
    return out_of_range("stream", watch.getStream(), 0, kMaxStream);
  }
  if (watch.getLeaseMs() > kMaxLeaseMs) {
    return out_of_range("leaseMs", watch.getLeaseMs(), 0, kMaxLeaseMs);
  }
  // A stop needs no stream parameters.
  if (watch.getLeaseMs() > 0) {
    if (watch.getIntervalMs() < kMinIntervalMs || watch.getIntervalMs() > kMaxIntervalMs) {
      return out_of_range("intervalMs", watch.getIntervalMs(), kMinIntervalMs, kMaxIntervalMs);
    }
    if (watch.getWidth() < kMinThumbnailWidth || watch.getWidth() > kMaxThumbnailWidth) {
      return out_of_range("width", watch.getWidth(), kMinThumbnailWidth, kMaxThumbnailWidth);
    }
    if (watch.getMaxBytes() < kMinThumbnailBytes || watch.getMaxBytes() > kMaxThumbnailBytes) {
      return out_of_range("maxBytes", watch.getMaxBytes(), kMinThumbnailBytes, kMaxThumbnailBytes);
    }
  }
  if (watch.getStations().size() > kMaxWatchedStations) {
    return "more than " + std::to_string(kMaxWatchedStations) + " stations";
  }
  for (auto key : watch.getStations()) {
    if (auto e = check_station_key(std::string_view(key.begin(), key.size())); !e.empty()) {
      return e;
    }
  }
  *out = ThumbnailRequest{.stream = watch.getStream(),
                          .interval_ms = watch.getIntervalMs(),
                          .width = watch.getWidth(),
                          .max_bytes = watch.getMaxBytes(),
                          .lease_ms = watch.getLeaseMs()};
  return "";
}

std::string check_remote_input(mp::schema::RemoteInput::Reader input) {
  auto key = input.getStationKey();
  if (auto e = check_station_key(std::string_view(key.begin(), key.size())); !e.empty()) return e;
  auto events = input.getEvents();
  if (events.size() == 0) return "no input events";
  if (events.size() > kMaxInputEvents) {
    return "more than " + std::to_string(kMaxInputEvents) + " input events";
  }
  for (auto event : events) {
    switch (event.which()) {
      case mp::schema::InputEvent::POINTER:
        break;
      case mp::schema::InputEvent::BUTTON: {
        auto button = event.getButton().getButton();
        if (button < 1 || button > 7) return out_of_range("button", button, 1, 7);
        break;
      }
      case mp::schema::InputEvent::KEY: {
        auto keysym = event.getKey().getKeysym();
        // X keysyms are 29 bits; 0 is NoSymbol.
        if (keysym == 0 || keysym > 0x1fffffff)
          return "keysym " + std::to_string(keysym) + " is not one";
        break;
      }
      default:
        return "an input event of a kind this mp-session does not know";
    }
  }
  return "";
}

}  // namespace mp::session
