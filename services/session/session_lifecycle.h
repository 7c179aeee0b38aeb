// How sessions open and end, and follow their desktops. A session opens through a transport's
// logon (`credentials`: the password, the station's admission, then the user's session) or an
// operator's `sessionStart`, both answered once a new desktop is up (desktop_starts.h); it ends
// by `sessionEnd`, a disconnected timeout, its desktop ending, or the one-shot end of all; after
// a restart the running desktops are re-adopted.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "desktop_starts.h"
#include "desktops.h"
#include "envelope.capnp.h"
#include "privacy_notice.h"
#include "session_bus.h"
#include "session_store.h"
#include "state_journal.h"
#include "station_registry.h"
#include "user_registry.h"

namespace mp::session {

class SessionLifecycle {
 public:
  // A disconnected session is logged off after `disconnected_timeout`; zero: never.
  SessionLifecycle(SessionStore& store, StateJournal& journal, Desktops& desktops,
                   DesktopStarts& starts, UserRegistry& users, StationRegistry& stations,
                   const PrivacyNotice& notice, AnswerLater answer_later,
                   std::chrono::seconds disconnected_timeout);

  // Requests, each in the mutation the journal runs it in. `channel` is the requesting service.
  void logon(Mutation& m, mp::schema::Credentials::Reader body, std::string_view channel,
             mp::schema::Envelope::Builder reply);
  void start(Mutation& m, mp::schema::SessionStart::Reader body,
             mp::schema::Envelope::Builder reply);
  void end(Mutation& m, mp::schema::SessionEnd::Reader body, mp::schema::Envelope::Builder reply);

  // The restart path, once the bus client can publish: every session the store says is open is
  // re-adopted if its display still runs, else ended.
  void recover_desktops();
  // Every second: logs off sessions disconnected for too long (counted from when it first sees
  // them disconnected, again after a restart).
  void tick();
  // Logs off every open session (the one-shot --end-all-sessions). Returns how many.
  std::size_t end_all(const std::string& reason);

  // Events from the desktops.
  void desktop_ended(std::uint64_t session_id, const std::string& reason);
  void agent_up(std::uint64_t session_id, bool up);
  void agent_started(std::uint64_t session_id, pid_t pid);

 private:
  SessionStore& store_;
  StateJournal& journal_;
  Desktops& desktops_;
  DesktopStarts& starts_;
  UserRegistry& users_;
  StationRegistry& stations_;
  const PrivacyNotice& notice_;
  AnswerLater answer_later_;
  std::chrono::seconds disconnected_timeout_;
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> disconnected_since_;
};

}  // namespace mp::session
