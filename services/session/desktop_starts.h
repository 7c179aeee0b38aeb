// Logons that wait for a new desktop. The logon that needs one reserves a session id and asks the
// Desktops to start it; the session is stored, published and answered only once the desktop is
// up. Meanwhile logons of the same user on the same station join it (one desktop, one answer for
// all), logons that touch its user or station otherwise wait behind it and run once it is over,
// and a detach, log off or user removal abandons it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "desktops.h"
#include "envelope.capnp.h"
#include "mp/bus/responder.h"
#include "privacy_notice.h"
#include "session_bus.h"
#include "session_store.h"
#include "state_journal.h"

namespace mp::session {

// A logon (credentials or sessionStart), checked: what opening its session needs.
struct LogonRequest {
  mp::schema::Envelope::Which body;
  std::string body_name;
  std::string idempotency_key;
  std::string station_key;
  std::string user;
  mp::schema::Role role = mp::schema::Role::UNKNOWN;  // credentials: the user's
  std::string client_address;
};

class DesktopStarts {
 public:
  DesktopStarts(SessionStore& store, StateJournal& journal, Desktops& desktops,
                const PrivacyNotice& notice);
  // Nothing stored these sessions yet: their desktops end, and their logons are answered
  // `unavailable` (the transports may retry with the next mp-session).
  ~DesktopStarts();
  DesktopStarts(const DesktopStarts&) = delete;
  DesktopStarts& operator=(const DesktopStarts&) = delete;

  // Answers a checked logon with the user's session on the station (session_rules.h), or makes
  // it wait, taking its Responder from `answer_later`: for a desktop starting for its user or on
  // its station, or for a new desktop of its own, launched once `m` commits.
  void open_for(Mutation& m, const LogonRequest& request, mp::schema::Envelope::Builder reply,
                const AnswerLater& answer_later);

  // The desktop starting on this station, or for this user; 0 if none. There is at most one of
  // each: logons touching a start wait for it.
  std::uint64_t on_station(std::string_view station_key) const;
  std::uint64_t of_user(std::string_view user) const;
  // The session start `id` reserved, or null if no desktop is starting under that id.
  const SessionRecord* starting(std::uint64_t id) const;
  // Once `m` commits, start `id` ends and its logons are refused with `why`.
  void abandon_after(Mutation& m, std::uint64_t id, std::string why);
  std::size_t size() const { return starting_.size(); }

 private:
  struct WaitingLogon {
    LogonRequest request;
    mp::bus::Responder responder;
  };
  // A new session's desktop being started. The session is stored once the desktop is up; until
  // then logons of its user or on its station wait, so no second desktop starts for either.
  struct Start {
    SessionRecord record;              // its id reserved in the store
    std::vector<WaitingLogon> joined;  // same user, same station: answered with its outcome
    std::vector<WaitingLogon> queued;  // its user elsewhere, or another user there: run after it
  };

  void answer_logon(const LogonRequest& request, const SessionRecord& record,
                    mp::schema::Envelope::Builder reply);
  void refuse_logon(const LogonRequest& request, const std::string& why,
                    mp::schema::Envelope::Builder reply);
  // Reserves the id in m's transaction; launched once m commits, forgotten if it does not.
  void begin(Mutation& m, const Station& station, WaitingLogon waiting);
  void launch(std::uint64_t id);
  void started(std::uint64_t id, std::variant<SessionRecord, std::string> result);
  // Stores the started session and answers its logons; ends the desktop if that fails.
  void commit(Start& start, const SessionRecord& record);
  // Why a started desktop can no longer become a session (normally never: see Start).
  std::string why_not_storable(const SessionRecord& record);
  void abandon(std::uint64_t id, const std::string& why);
  void refuse_waiting(std::vector<WaitingLogon>& logons, const std::string& why);
  // Runs logons that waited behind a start that is over, as if they arrived now.
  void run_queued(std::vector<WaitingLogon> queued);

  SessionStore& store_;
  StateJournal& journal_;
  Desktops& desktops_;
  const PrivacyNotice& notice_;
  std::map<std::uint64_t, Start> starting_;  // by the session id they reserved
};

}  // namespace mp::session
