// Restrictions that follow a session when it moves to another station. A student who reconnects
// under another client name lands on another station (the station key is the client's name);
// without this, a block or a web limit set on the first station would stay behind. mp-session
// publishes SessionRecord.movedFrom/movedAtNs; when mp-policy sees a move it has not taken into
// account yet, the session takes along every restriction its previous station had in force
// (that station's own policy: blocked, web allowOnly/blockOnly with its list, USB locked), plus
// whatever it carried already (moves chain). A carried restriction applies wherever the session
// is until the origin's own setting that caused it no longer restricts; then it is dropped for
// good (a later block of the origin does not follow the session again). Ended sessions drop
// theirs. Pure: the caller computes own policies and persists what changed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "policy_model.h"

namespace mp::policy {

// What mp-session says about one session.
struct SeenSession {
  std::uint64_t id = 0;
  std::string station;
  bool ended = false;
  std::string moved_from;        // "": never moved
  std::int64_t moved_at_ns = 0;  // 0: never moved
};

// The sessions mp-policy follows and what they carry. A value: PolicyService changes a copy and
// keeps it once the change is committed.
class CarriedRestrictions {
 public:
  // A station's own effective policy (without what sessions carry there).
  using OwnOf = std::function<Effective(const std::string& station)>;

  CarriedRestrictions() = default;
  explicit CarriedRestrictions(std::map<std::uint64_t, SessionCarry> sessions)
      : sessions_(std::move(sessions)) {}

  // Takes what mp-session reports into account: a session on another station than before takes
  // what it carries along; a move not taken into account yet also carries what the previous
  // station has in force now (`own_of`: so a move made while mp-policy was down still carries);
  // ended sessions, and with `complete` (a whole snapshot) sessions not listed, drop theirs.
  // Only sessions that moved once are followed. Returns the stations whose effective policy may
  // change.
  std::set<std::string> apply(const std::vector<SeenSession>& seen, bool complete,
                              const OwnOf& own_of, std::int64_t now_ns);
  // Drops for good every carried restriction whose origin's own policy no longer restricts it
  // (only origins in `origins`, if given). Returns the stations whose effective policy may change.
  std::set<std::string> lift(const OwnOf& own_of, const std::set<std::string>* origins = nullptr);

  // What the sessions on each station carry.
  std::map<std::string, std::vector<const Carried*>> by_station() const;
  // Stations sessions are on (they get an effective policy published).
  std::set<std::string> stations() const;
  const std::map<std::uint64_t, SessionCarry>& sessions() const { return sessions_; }
  // Sessions changed or forgotten since the last call (for the store).
  std::set<std::uint64_t> take_changed() { return std::exchange(changed_, {}); }

 private:
  std::map<std::uint64_t, SessionCarry> sessions_;
  std::set<std::uint64_t> changed_;
};

}  // namespace mp::policy
