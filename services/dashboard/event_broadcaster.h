// Live updates for the browsers: bus events turned into server-sent events are published here
// (on the bus thread) and each open /api/events stream (on its own HTTP thread) waits for them.
// Every subscriber has a bounded queue: one that falls too far behind loses its queue and is
// told to resync (refetch the station list) instead of holding memory for a slow browser.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace mp::dashboard {

struct ServerEvent {
  std::string name;  // the SSE `event:` field, e.g. "station"
  std::string data;  // one line of JSON
};

// `event: NAME\ndata: DATA\n\n`; a comment line for an empty name.
std::string format_server_event(const ServerEvent& event);

class EventSubscription {
 public:
  struct Batch {
    std::vector<ServerEvent> events;
    bool lagged = false;  // events were dropped: the browser must resync
    bool closed = false;  // the stream is to end (logout, shutdown)
  };
  EventSubscription(std::string owner, std::size_t max_queued)
      : owner_(std::move(owner)), max_queued_(max_queued) {}

  // Waits up to `timeout` for events or closing. An empty batch means the time passed.
  Batch wait(std::chrono::milliseconds timeout);
  const std::string& owner() const { return owner_; }

  void push(const ServerEvent& event);
  void close();

 private:
  const std::string owner_;  // the login session the stream belongs to
  const std::size_t max_queued_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<ServerEvent> queue_;
  bool lagged_ = false;
  bool closed_ = false;
};

class EventBroadcaster {
 public:
  struct Options {
    std::size_t max_subscribers = 16;
    std::size_t max_queued = 512;
  };
  EventBroadcaster() : EventBroadcaster(Options{}) {}
  explicit EventBroadcaster(Options options) : options_(options) {}

  // nullptr when there are already max_subscribers streams, or after close().
  std::shared_ptr<EventSubscription> subscribe(std::string owner);
  void unsubscribe(const std::shared_ptr<EventSubscription>& subscription);
  void publish(const ServerEvent& event);
  // Ends the streams of one login session (it logged out).
  void close_owner(std::string_view owner);
  // Ends every stream and refuses new ones (shutdown).
  void close();
  std::size_t subscribers() const;

 private:
  Options options_;
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<EventSubscription>> subscriptions_;
  bool closed_ = false;
};

}  // namespace mp::dashboard
