// A Desktops for the bookkeeping tests: it starts nothing and records what SessionService asked
// of it, so the rules of stations, users and sessions are tested without accounts or processes.
// The real SystemDesktops is tested with real Xvfb and processes in desktop_process_test.cpp.
#pragma once

#include <map>
#include <set>
#include <string>
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
  std::string start(SessionRecord& record, const std::set<std::string>& taken,
                    const std::string& privacy_notice) override {
    if (!start_error.empty()) return start_error;
    for (int n = 10;; ++n) {
      std::string display = ":" + std::to_string(n);
      if (taken.contains(display)) continue;
      record.display = display;
      break;
    }
    record.unix_user = record.user;
    record.xauthority = "/run/test/" + std::to_string(record.id) + "/Xauthority";
    running[record.id] = record;
    notices[record.id] = privacy_notice;
    return "";
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
  std::string start_error;
};

}  // namespace mp::session
