// SessionService: the authority for stations, users and sessions. Answers the transport
// contract (stationAttach, stationDetach, transportSync, credentials) and the session bodies
// (users, authenticate, rename, lists, sessions, snapshot). Every mutation runs in one SQLite
// transaction together with its idempotency record and the state version, and is published
// after the commit as numbered updates on "session.station", "session.user" and
// "session.session". A logon that needs a new desktop is answered later, once the desktop is up
// (through a Responder), so the loop keeps serving meanwhile; the session is stored only then.
// Testable without a process: feed it Incoming requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "desktops.h"
#include "envelope.capnp.h"
#include "mp/bus/client.h"
#include "mp/bus/frame.h"
#include "mp/bus/responder.h"
#include "mp/service/logon_throttle.h"
#include "mp/service/user_name_redactor.h"
#include "password.h"
#include "session_store.h"

namespace mp::session {

inline constexpr std::string_view kServiceName = "session";
inline constexpr std::string_view kSnapshotTopic = "session";
inline constexpr std::string_view kStationTopic = "session.station";
inline constexpr std::string_view kUserTopic = "session.user";
inline constexpr std::string_view kSessionTopic = "session.session";
inline constexpr std::string_view kReplyTopic = "session.reply";
// Images of session screens, events on "thumbnail.<station key>": outside "session" so that
// the replicas of mp-session's state do not receive them.
inline constexpr std::string_view kThumbnailTopicPrefix = "thumbnail.";
inline constexpr const char* kDefaultPrivacyNotice =
    "This computer is monitored. Your activities may be seen by the teacher.";

struct SessionServiceOptions {
  // Idempotency records: forgotten after the TTL, and beyond this many.
  std::size_t max_applied_requests = 100000;
  std::chrono::hours applied_request_ttl{24};
  std::size_t prune_every = 256;  // mutations between two prunings (and one at start)
  // Ended sessions are history, not state: kept this long, then deleted.
  std::chrono::hours ended_session_ttl{24 * 30};
  // Failed logons, per user name, client address and requesting service (header.source: a
  // flood over RDP does not delay the dashboard's logons), and per address across names.
  mp::service::LogonThrottle::Options throttle;
  // A disconnected session is logged off after this long; zero: kept until log off. Counted
  // by tick() from when it first sees the session disconnected (again after a restart).
  std::chrono::seconds disconnected_timeout{0};
  // Shown in a user's sessions until they acknowledge it once; empty: no notice.
  std::string privacy_notice = kDefaultPrivacyNotice;
  // CLOCK_REALTIME in nanoseconds; empty: the system clock. Tests inject their own.
  std::function<std::int64_t()> clock;
  // Told of every committed change, after it was published (projection follows stations and
  // sessions through these).
  std::function<void(const Station&)> station_changed;
  std::function<void(const SessionRecord&)> session_changed;
};

class SessionService {
 public:
  // Publishes one numbered update; main() binds it to Client::publish.
  using Publish = std::function<void(std::string_view topic, const mp::bus::Build& body,
                                     std::uint64_t state_version)>;
  // The Responder of the request being handled; main() binds it to Client::answer_later.
  using AnswerLater = std::function<mp::bus::Responder()>;

  // `desktops` runs what the records describe (SystemDesktops in mp-session).
  SessionService(SessionStore& store, const PasswordHasher& hasher, Desktops& desktops,
                 Publish publish, AnswerLater answer_later, SessionServiceOptions options = {});
  // Desktops still starting are abandoned and their logons answered `unavailable`.
  ~SessionService();
  SessionService(const SessionService&) = delete;
  SessionService& operator=(const SessionService&) = delete;

  // The restart path, once the bus client can publish: every session the store says is open is
  // re-adopted if its display still runs, else ended.
  void recover_desktops();

  // A Client::RequestHandler: fills `reply`, or returns false for a body it does not serve.
  // A logon waiting for a desktop leaves `reply` alone: it took its Responder from AnswerLater.
  bool handle(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply);

  // Called every second by main(): logs off sessions disconnected for too long.
  void tick();

  // Projection: these stations now show the desktop of `source` ("": their own). A change
  // mp-session makes by itself, published like a request's; unknown keys are skipped.
  void set_showing(const std::vector<std::string>& stations, const std::string& source);

  // Logs off every open session (the one-shot --end-all-sessions). Returns how many.
  std::size_t end_all_sessions(const std::string& reason);

  std::uint64_t state_version() { return store_.state_version(); }
  // Desktops being started for logons that wait for them.
  std::size_t desktops_starting() const { return starting_.size(); }

 private:
  struct UserChange {
    User user;
    bool removed = false;
  };
  using Change = std::variant<Station, UserChange, SessionRecord>;
  // What one mutating request changed, in order; each change is one published update.
  struct Mutation {
    std::int64_t now_ns = 0;
    std::string idempotency_key;  // of the request, if any
    std::string body;             // the request's body name, e.g. "credentials"
    std::vector<Change> changes;
    std::vector<SessionRecord> started;  // desktops started: ended again if nothing commits
    // The request waits for a desktop: nothing is answered or remembered now.
    bool answered_later = false;
    std::vector<std::uint64_t> starts_to_launch;                          // once committed
    std::vector<std::pair<std::uint64_t, std::string>> starts_to_cancel;  // id, why
  };
  using Apply = std::function<void(Mutation&, mp::schema::Envelope::Builder reply)>;

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
  struct WaitingLogon {
    LogonRequest request;
    mp::bus::Responder responder;
  };
  // A new session's desktop being started. The session is stored once the desktop is up; until
  // then logons of its user or on its station wait, so no second desktop starts for either.
  struct DesktopStart {
    SessionRecord record;              // its id reserved in the store
    std::vector<WaitingLogon> joined;  // same user, same station: answered with its outcome
    std::vector<WaitingLogon> queued;  // its user elsewhere, or another user there: run after it
  };
  // open_session's answer for a logon that must wait: it joins or queues behind `start`, or
  // needs a new desktop (start 0).
  struct WaitForDesktop {
    std::uint64_t start = 0;
    bool joins = false;
  };
  using Opened = std::variant<SessionRecord, std::string, WaitForDesktop>;

  bool mutate(const mp::bus::Incoming& request, mp::schema::Envelope::Builder reply,
              const Apply& apply);
  // One transaction: the retry check under `key`, `apply`, the state version, the key with the
  // reply, commit, then committed().
  void run_mutation(const std::string& key, const std::string& body,
                    mp::schema::Envelope::Builder reply, const Apply& apply);
  // A change mp-session makes by itself (a desktop ended, an agent came up): versioned and
  // published like a request's.
  void mutate_internally(const std::function<void(Mutation&)>& apply);
  // After the commit: publish, and tell the desktops what changed.
  void committed(Mutation& m, std::uint64_t base_version);
  // Nothing committed: desktops started for it are ended again.
  void rolled_back(Mutation& m);
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
  void logon(Mutation& m, mp::schema::Credentials::Reader body, std::string_view channel,
             mp::schema::Envelope::Builder reply);
  void add_user(Mutation& m, mp::schema::UserAdd::Reader body, mp::schema::Envelope::Builder reply);
  void remove_user(Mutation& m, mp::schema::UserRemove::Reader body,
                   mp::schema::Envelope::Builder reply);
  void modify_user(Mutation& m, mp::schema::UserModify::Reader body,
                   mp::schema::Envelope::Builder reply);
  void rename(Mutation& m, mp::schema::StationRename::Reader body,
              mp::schema::Envelope::Builder reply);
  void admit_stations(Mutation& m, mp::schema::StationAdmission::Reader body,
                      mp::schema::Envelope::Builder reply);
  void start_session(Mutation& m, mp::schema::SessionStart::Reader body,
                     mp::schema::Envelope::Builder reply);
  void end_session(Mutation& m, mp::schema::SessionEnd::Reader body,
                   mp::schema::Envelope::Builder reply);
  void send_message(mp::schema::SendMessage::Reader body, const std::string& operator_name,
                    mp::schema::Envelope::Builder reply);

  // The operators' screen requests (screen_relay.cpp): passed on to the agents.
  void watch_thumbnails(mp::schema::ThumbnailWatch::Reader body,
                        mp::schema::Envelope::Builder reply);
  void remote_input(mp::schema::RemoteInput::Reader body, mp::schema::Envelope::Builder reply);
  void agent_thumbnail(std::uint64_t session_id, mp::schema::AgentThumbnail::Reader thumbnail);

  // Events from the desktops.
  void desktop_ended(std::uint64_t session_id, const std::string& reason);
  void agent_up(std::uint64_t session_id, bool up);
  void agent_started(std::uint64_t session_id, pid_t pid);
  void agent_replied(std::uint64_t session_id, std::uint64_t message_id, const std::string& text);
  void notice_acknowledged(std::uint64_t session_id);

  // Reads.
  void authenticate(mp::schema::Authenticate::Reader body, std::string_view channel,
                    mp::schema::Envelope::Builder reply);
  void snapshot(mp::schema::SnapshotRequest::Reader body, mp::schema::Envelope::Builder reply);
  void list_users(mp::schema::UserListRequest::Reader body, mp::schema::Envelope::Builder reply);
  void list_stations(mp::schema::StationListRequest::Reader body,
                     mp::schema::Envelope::Builder reply);
  void list_sessions(mp::schema::SessionListRequest::Reader body,
                     mp::schema::Envelope::Builder reply);

  // Building blocks of the mutations.
  Station attach_station(Mutation& m, mp::schema::StationInfo::Reader info);
  void detach_station(Mutation& m, Station station);
  void mark_logged_on(Mutation& m, Station& station);
  // The user's session on the station (reactivated if disconnected, or moved from another
  // station); an error text if it cannot be; or that the logon must wait for a desktop.
  Opened open_session(Mutation& m, Station station, const std::string& user);
  void close_session(Mutation& m, SessionRecord record);
  // Answers a checked logon with the user's session on the station, or makes it wait for a
  // desktop (taking its Responder from `responder`).
  void open_for(Mutation& m, const LogonRequest& request, mp::schema::Envelope::Builder reply,
                const AnswerLater& responder);
  void answer_logon(const LogonRequest& request, const SessionRecord& record,
                    mp::schema::Envelope::Builder reply);
  void refuse_logon(const LogonRequest& request, const std::string& why,
                    mp::schema::Envelope::Builder reply);
  // Starts waiting for a new desktop for `request` (the id is reserved in m's transaction).
  void begin_desktop(Mutation& m, const Station& station, WaitingLogon waiting);
  // The desktop starting on this station, or for this user; 0 if none. There is at most one of
  // each: logons touching a start wait for it.
  std::uint64_t start_on_station(std::string_view station_key) const;
  std::uint64_t start_of_user(std::string_view user) const;
  // After a commit: asks the desktops for it.
  void launch_desktop(std::uint64_t id);
  void desktop_started(std::uint64_t id, std::variant<SessionRecord, std::string> result);
  // Stores the started session and answers its logons; ends the desktop if that fails.
  void commit_desktop(DesktopStart& start, const SessionRecord& record);
  // Why a started desktop can no longer become a session (normally never: see DesktopStart).
  std::string why_not_storable(const SessionRecord& record);
  // After a commit: the start ends, its logons are refused with `why`.
  void abandon_desktop(std::uint64_t id, const std::string& why);
  void refuse_waiting(std::vector<WaitingLogon>& logons, const std::string& why);
  // Runs logons that waited behind a start that is over, as if they arrived now.
  void run_queued(std::vector<WaitingLogon> queued);
  std::string privacy_notice_for(const std::string& user);
  struct LogonCheck {
    std::optional<User> user;  // set when the password is right
    std::string reason;        // why not, without saying whether the name exists
  };
  // Checks a password, throttled per `channel` (the requesting service); spends a hash
  // verification even for unknown users.
  LogonCheck check_password(std::string_view name, std::string_view password,
                            std::string_view client_address, std::string_view channel);
  // A typed user name as log lines may show it: an account's as it is, any other hashed.
  std::string user_for_log(std::string_view name) const;

  SessionStore& store_;
  const PasswordHasher& hasher_;
  Desktops& desktops_;
  Publish publish_;
  AnswerLater answer_later_;
  SessionServiceOptions options_;
  mp::service::LogonThrottle throttle_;
  mp::service::UserNameRedactor name_redactor_;
  std::uint64_t mutations_since_prune_ = 0;
  std::uint64_t next_message_id_;
  std::map<std::uint64_t, std::chrono::steady_clock::time_point> disconnected_since_;
  std::map<std::uint64_t, DesktopStart> starting_;  // by the session id they reserved
};

}  // namespace mp::session
