#include "event_broadcaster.h"

#include <algorithm>

namespace mp::dashboard {

std::string format_server_event(const ServerEvent& event) {
  if (event.name.empty()) return ": " + event.data + "\n\n";
  return "event: " + event.name + "\ndata: " + event.data + "\n\n";
}

// EventSubscription --------------------------------------------------------------------------

EventSubscription::Batch EventSubscription::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  wake_.wait_for(lock, timeout, [this] { return closed_ || lagged_ || !queue_.empty(); });
  Batch batch;
  batch.closed = closed_;
  batch.lagged = lagged_;
  lagged_ = false;
  batch.events.assign(std::make_move_iterator(queue_.begin()),
                      std::make_move_iterator(queue_.end()));
  queue_.clear();
  return batch;
}

void EventSubscription::push(const ServerEvent& event) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    if (queue_.size() >= max_queued_) {
      queue_.clear();
      lagged_ = true;
    } else if (!lagged_) {
      queue_.push_back(event);
    }
  }
  wake_.notify_one();
}

void EventSubscription::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  wake_.notify_one();
}

// EventBroadcaster ---------------------------------------------------------------------------

std::shared_ptr<EventSubscription> EventBroadcaster::subscribe(std::string owner) {
  std::lock_guard lock(mutex_);
  if (closed_ || subscriptions_.size() >= options_.max_subscribers) return nullptr;
  subscriptions_.push_back(
      std::make_shared<EventSubscription>(std::move(owner), options_.max_queued));
  return subscriptions_.back();
}

void EventBroadcaster::unsubscribe(const std::shared_ptr<EventSubscription>& subscription) {
  subscription->close();
  std::lock_guard lock(mutex_);
  std::erase(subscriptions_, subscription);
}

void EventBroadcaster::publish(const ServerEvent& event) {
  std::lock_guard lock(mutex_);
  for (const auto& subscription : subscriptions_) subscription->push(event);
}

void EventBroadcaster::close_owner(std::string_view owner) {
  std::lock_guard lock(mutex_);
  for (const auto& subscription : subscriptions_) {
    if (subscription->owner() == owner) subscription->close();
  }
}

void EventBroadcaster::close() {
  std::lock_guard lock(mutex_);
  closed_ = true;
  for (const auto& subscription : subscriptions_) subscription->close();
}

std::size_t EventBroadcaster::subscribers() const {
  std::lock_guard lock(mutex_);
  return subscriptions_.size();
}

}  // namespace mp::dashboard
