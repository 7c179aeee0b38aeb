// SessionService: the authority for stations, users and sessions. Answers the transport
// contract (stationAttach, stationDetach, transportSync, credentials) and the session bodies
// (users, authenticate, rename, lists, sessions, snapshot). Every mutation runs in one SQLite
// transaction together with its idempotency record and the state version, and is published
// after the commit as numbered updates on "session.station", "session.user" and
// "session.session". Testable without a process: feed it Incoming requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "envelope.capnp.h"
#include "logon_throttle.h"
#include "mp/bus/client.h"
#include "mp/bus/frame.h"
#include "password.h"
#include "session_store.h"

namespace mp::session {

inline constexpr std::string_view kServiceName = "session";
inline constexpr std::string_view kSnapshotTopic = "session";
inline constexpr std::string_view kStationTopic = "session.station";
inline constexpr std::string_view kUserTopic = "session.user";
inline constexpr std::string_view kSessionTopic = "session.session";

struct SessionServiceOptions {
  // Idempotency records: forgotten after the TTL, and beyond this many.
  std::size_t max_applied_requests = 100000;
  std::chrono::hours applied_request_ttl{24};
  std::size_t prune_every = 256;  // mutations between two prunings (and one at start)
  // Ended sessions are history, not state: kept this long, then deleted.
  std::chrono::hours ended_session_ttl{24 * 30};
  // Sessions get X displays ":N" from here up (the lowest free number).
  int first_display = 10;
  LogonThrottle::Options throttle;
  // CLOCK_REALTIME in nanoseconds; empty: the system clock. Tests inject their own.
  std::function<std::int64_t()> clock;
};

class SessionService {
 public:
  // Publishes one numbered update; main() binds it to Client::publish.
  using Publish = std::function<void(std::string_view topic, const mp::bus::Build& body,
                                     std::uint64_t state_version)>;

  SessionService(SessionStore& store, const PasswordHasher& hasher, Publish publish,
                 SessionServiceOptions options = {});

  // A Client::RequestHandler: fills `reply`, or returns false for a body it does not serve.
  bool handle(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);

  std::uint64_t state_version() { return store_.state_version(); }

 private:
  struct UserChange {
    User user;
    bool removed = false;
  };
  using Change = std::variant<Station, UserChange, SessionRecord>;
  // What one mutating request changed, in order; each change is one published update.
  struct Mutation {
    std::int64_t now_ns = 0;
    std::vector<Change> changes;
  };
  using Apply = std::function<void(Mutation&, mp::schema::Envelope::Builder reply)>;

  bool mutate(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply,
              const Apply& apply);
  void publish(const Change& change, std::uint64_t version);
  void prune(std::int64_t now_ns);
  std::int64_t now_ns() const;

  // Mutations.
  void attach(Mutation& m, mp::schema::StationAttach::Reader body,
              mp::schema::Envelope::Builder reply);
  void detach(Mutation& m, mp::schema::StationDetach::Reader body,
              mp::schema::Envelope::Builder reply);
  void sync(Mutation& m, mp::schema::TransportSync::Reader body,
            mp::schema::Envelope::Builder reply);
  void logon(Mutation& m, mp::schema::Credentials::Reader body,
             mp::schema::Envelope::Builder reply);
  void add_user(Mutation& m, mp::schema::UserAdd::Reader body, mp::schema::Envelope::Builder reply);
  void remove_user(Mutation& m, mp::schema::UserRemove::Reader body,
                   mp::schema::Envelope::Builder reply);
  void rename(Mutation& m, mp::schema::StationRename::Reader body,
              mp::schema::Envelope::Builder reply);
  void start_session(Mutation& m, mp::schema::SessionStart::Reader body,
                     mp::schema::Envelope::Builder reply);
  void end_session(Mutation& m, mp::schema::SessionEnd::Reader body,
                   mp::schema::Envelope::Builder reply);

  // Reads.
  void authenticate(mp::schema::Authenticate::Reader body, mp::schema::Envelope::Builder reply);
  void snapshot(mp::schema::SnapshotRequest::Reader body, mp::schema::Envelope::Builder reply);
  void list_users(mp::schema::Envelope::Builder reply);
  void list_stations(mp::schema::Envelope::Builder reply);
  void list_sessions(mp::schema::Envelope::Builder reply);

  // Building blocks of the mutations.
  Station attach_station(Mutation& m, mp::schema::StationInfo::Reader info);
  void detach_station(Mutation& m, Station station);
  // The user's session on the station (reactivated if disconnected) or a new one; an error
  // text if the station holds another user's session.
  std::variant<SessionRecord, std::string> open_session(Mutation& m, Station station,
                                                        const std::string& user);
  void close_session(Mutation& m, SessionRecord record);
  std::string free_display();
  struct LogonCheck {
    std::optional<User> user;  // set when the password is right
    const char* reason = "";   // why not, without saying whether the name exists
  };
  // Checks a password, throttled; spends a hash verification even for unknown users.
  LogonCheck check_password(std::string_view name, std::string_view password,
                            std::string_view client_address, std::int64_t now);

  SessionStore& store_;
  const PasswordHasher& hasher_;
  Publish publish_;
  SessionServiceOptions options_;
  LogonThrottle throttle_;
  std::uint64_t mutations_since_prune_ = 0;
};

}  // namespace mp::session
