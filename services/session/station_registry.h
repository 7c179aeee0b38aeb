// The stations: what transports attach, detach and sync, what operators rename, what
// administrators admit, and which desktop each station shows (projection). A station that
// detaches keeps its session, disconnected, until log off; a desktop starting there is
// abandoned.
#pragma once

#include <string>
#include <vector>

#include "desktop_starts.h"
#include "envelope.capnp.h"
#include "session_store.h"
#include "state_journal.h"

namespace mp::session {

// Why a station's description from the wire is not acceptable, or "".
std::string check_station_info(mp::schema::StationInfo::Reader info);

class StationRegistry {
 public:
  StationRegistry(SessionStore& store, StateJournal& journal, DesktopStarts& starts);

  // Requests, each in the mutation the journal runs it in.
  void attach(Mutation& m, mp::schema::StationAttach::Reader body,
              mp::schema::Envelope::Builder reply);
  void detach(Mutation& m, mp::schema::StationDetach::Reader body,
              mp::schema::Envelope::Builder reply);
  void sync(Mutation& m, mp::schema::TransportSync::Reader body,
            mp::schema::Envelope::Builder reply);
  void rename(Mutation& m, mp::schema::StationRename::Reader body,
              mp::schema::Envelope::Builder reply);
  void admit(Mutation& m, mp::schema::StationAdmission::Reader body,
             mp::schema::Envelope::Builder reply);

  // A checked station, attached: created, or updated if anything changed. Its desktop size is
  // clamped to what a session may have.
  Station attach_station(Mutation& m, mp::schema::StationInfo::Reader info);
  // Someone logged on there (from then on it is more than a connection).
  void mark_logged_on(Mutation& m, Station& station);

  // Projection: these stations now show the desktop of `source` ("": their own). A change
  // mp-session makes by itself, published like a request's; unknown keys are skipped.
  void set_showing(const std::vector<std::string>& stations, const std::string& source);

 private:
  void detach_station(Mutation& m, Station station);

  SessionStore& store_;
  StateJournal& journal_;
  DesktopStarts& starts_;
};

}  // namespace mp::session
