// A Desktops for the bookkeeping tests: it starts nothing and records what SessionService asked
// of it, so the rules of stations, users and sessions are tested without accounts or processes.
// Starts complete at once, or are held pending until the test completes or fails them.
// The real SystemDesktops is tested with real Xvfb and processes in desktop_process_test.cpp.
#pragma once

#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "desktops.h"

namespace mp::session {

class RecordedDesktops : public Desktops {
 public:
  void set_events(Events events) override { events_ = std::move(events); }
  std::string add_user(const std::string& name) override {
    if (refused_users.contains(name)) return "a Linux account '" + name + "' already exists";
    added_users.push_back(name);
    return "";
  }
  std::string remove_user(const std::string& name) override {
    removed_users.push_back(name);
    return "";
  }
  void start(const SessionRecord& record, const std::set<std::string>& taken,
             const std::string& privacy_notice, Started done) override {
    starts.push_back(record.id);
    if (hold_starts) {
      held[record.id] = Held{record, taken, privacy_notice, std::move(done)};
      return;
    }
    done(outcome(record, taken, privacy_notice));
  }
  void cancel_start(std::uint64_t session_id) override {
    held.erase(session_id);
    cancelled.push_back(session_id);
  }
  bool adopt(const SessionRecord& record, const std::string& privacy_notice) override {
    notices[record.id] = privacy_notice;
    return running.contains(record.id) && !lost.contains(record.id);
  }
  void changed(const SessionRecord& record) override {
    if (record.state == mp::schema::SessionState::ENDED) {
      running.erase(record.id);
      ended.push_back(record.id);
    } else if (running.contains(record.id)) {
      running[record.id] = record;
    }
  }
  void set_privacy_notice(std::uint64_t session_id, const std::string& text) override {
    notices[session_id] = text;
  }
  bool show_message(std::uint64_t session_id, std::uint64_t message_id, const std::string& from,
                    const std::string& text, std::string* reason) override {
    if (!running.contains(session_id)) {
      *reason = "the session has no running desktop";
      return false;
    }
    messages.push_back({session_id, message_id, from, text});
    return true;
  }
  bool request_thumbnails(std::uint64_t session_id, const ThumbnailRequest& request,
                          std::string* reason) override {
    if (!running.contains(session_id)) {
      *reason = "the session has no running desktop";
      return false;
    }
    thumbnail_requests.push_back({session_id, request});
    return true;
  }
  bool send_input(std::uint64_t session_id, capnp::List<mp::schema::InputEvent>::Reader events,
                  std::string* reason) override {
    if (!running.contains(session_id)) {
      *reason = "the session has no running desktop";
      return false;
    }
    inputs.push_back({session_id, events.size()});
    return true;
  }

  bool launch_app(std::uint64_t session_id, const std::vector<std::string>& command,
                  std::string* reason) override {
    if (!running.contains(session_id)) {
      *reason = "the session has no running desktop";
      return false;
    }
    launched.push_back({session_id, command});
    return true;
  }
  int close_app(std::uint64_t session_id, const std::string& program,
                std::string* reason) override {
    if (!running.contains(session_id)) {
      *reason = "the session has no running desktop";
      return -1;
    }
    closed.push_back({session_id, program});
    return 1;
  }

  // Starts held pending (hold_starts): the test completes or fails them.
  void complete_start(std::uint64_t session_id) {
    Held start = take(session_id);
    start.done(outcome(start.record, start.taken, start.privacy_notice));
  }
  void fail_start(std::uint64_t session_id, const std::string& error) {
    take(session_id).done(error);
  }
  std::uint64_t only_held() const {
    if (held.size() != 1) throw std::logic_error(std::to_string(held.size()) + " starts held");
    return held.begin()->first;
  }

  // What the tests look at and steer.
  struct Message {
    std::uint64_t session_id, message_id;
    std::string from, text;
  };
  Events events_;
  std::map<std::uint64_t, SessionRecord> running;
  std::map<std::uint64_t, std::string> notices;
  std::set<std::uint64_t> lost;  // adopt() says these are gone
  std::vector<std::uint64_t> ended;
  std::vector<std::string> added_users, removed_users;
  std::set<std::string> refused_users;
  std::vector<Message> messages;
  std::vector<std::pair<std::uint64_t, ThumbnailRequest>> thumbnail_requests;
  std::vector<std::pair<std::uint64_t, std::size_t>> inputs;  // session, number of events
  std::vector<std::pair<std::uint64_t, std::vector<std::string>>> launched;
  std::vector<std::pair<std::uint64_t, std::string>> closed;
  std::string start_error;   // every start fails with it
  bool hold_starts = false;  // starts wait for complete_start() or fail_start()
  struct Held {
    SessionRecord record;
    std::set<std::string> taken;
    std::string privacy_notice;
    Started done;
  };
  std::map<std::uint64_t, Held> held;
  std::vector<std::uint64_t> starts, cancelled;

 private:
  // What a start ends in: the desktop "runs" with the lowest free display from :10.
  std::variant<SessionRecord, std::string> outcome(SessionRecord record,
                                                   const std::set<std::string>& taken,
                                                   const std::string& privacy_notice) {
    if (!start_error.empty()) return start_error;
    for (int n = 10;; ++n) {
      std::string display = ":" + std::to_string(n);
      bool in_use = taken.contains(display);
      for (const auto& [id, other] : running) in_use |= other.display == display;
      if (in_use) continue;
      record.display = display;
      break;
    }
    record.unix_user = record.user;
    record.xauthority = "/run/test/" + std::to_string(record.id) + "/Xauthority";
    running[record.id] = record;
    notices[record.id] = privacy_notice;
    return record;
  }
  Held take(std::uint64_t session_id) {
    auto it = held.find(session_id);
    if (it == held.end())
      throw std::logic_error("no start held for session " + std::to_string(session_id));
    Held start = std::move(it->second);
    held.erase(it);
    return start;
  }
};

}  // namespace mp::session
