@0xea220376a61744fc;
# mp-session: the authority for stations, users and sessions. Requests go to the service
# "session"; numbered updates are published on topics "session.station", "session.user" and
# "session.session" with header.stateVersion set. Evolve by ordinal only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

using Bus = import "bus.capnp";
using Transport = import "transport.capnp";
using Agent = import "agent.capnp";

enum Role {
  unknown @0;
  standard @1;   # a student: may log on to a station
  admin @2;      # may manage users, stations and services
  dashboard @3;  # a teacher: may use the dashboard
}

enum StationState {
  unknown @0;
  attached @1;   # the transport has it now
  detached @2;   # known, but the transport does not have it (client gone, hub unplugged)
}

enum SessionState {
  unknown @0;
  active @1;
  disconnected @2;  # the station went away; the session is kept until log off
  ended @3;
}

struct Station {
  key @0 :Text;
  name @1 :Text;          # operator-given; defaults to the key
  transport @2 :Text;
  state @3 :StationState;
  clientName @4 :Text;
  address @5 :Text;
  capabilities @6 :Transport.Capabilities;
  attachedAtNs @7 :Int64;
  sessionId @8 :UInt64;   # 0: no session
  showing @9 :Text;       # projection: the station whose desktop this one shows (empty: its own)
  admitted @10 :Bool;     # an administrator admitted it (or it was known before admission
                          # existed); false: a new station, under the "new stations" policy
}

struct User {
  name @0 :Text;
  role @1 :Role;
  createdAtNs @2 :Int64;
  passwordChangedAtNs @3 :Int64;   # the last password reset (0: none since creation): logins
                                   # made before it end
}

struct SessionRecord {
  id @0 :UInt64;
  stationKey @1 :Text;
  user @2 :Text;
  display @3 :Text;
  state @4 :SessionState;
  startedAtNs @5 :Int64;
  endedAtNs @6 :Int64;
  unixUser @7 :Text;      # the Linux account the session runs as
  xauthority @8 :Text;    # path of the display's Xauthority file (readable by the transport)
  width @9 :UInt16;       # the display's size
  height @10 :UInt16;
  agentUp @11 :Bool;      # the session's mp-agent process runs (not stopped) and heartbeats
  movedFrom @12 :Text;    # the station the session was on before its last move ("" : none)
  movedAtNs @13 :Int64;   # when it moved there (0: never moved)
}

struct UserAdd {
  # Reply: Ack. Invalid name/role/weak password: error invalid. Existing name: error invalid.
  name @0 :Text;
  role @1 :Role;
  password @2 :Text;
}

struct UserRemove {
  name @0 :Text;
}

struct UserListRequest {
  cursor @0 :Text;   # paging: empty for the first page, then the previous page's nextCursor
}

struct UserList {
  users @0 :List(User);
  nextCursor @1 :Text;   # not empty: more follow
}

struct Authenticate {
  # Reply: LogonResult. Never says which of name or password was wrong.
  user @0 :Text;
  password @1 :Text;
  clientAddress @2 :Text;
}

struct LogonResult {
  ok @0 :Bool;
  role @1 :Role;
  reason @2 :Text;
  session @3 :SessionRecord;   # set when the logon was for a station
}

struct StationRename {
  key @0 :Text;
  name @1 :Text;
}

struct StationListRequest {
  cursor @0 :Text;   # paging: empty for the first page, then the previous page's nextCursor
}

struct StationList {
  stations @0 :List(Station);
  nextCursor @1 :Text;   # not empty: more follow
}

struct SessionStart {
  # Open (or return the existing) session for `user` on a station. Reply: SessionRecord.
  stationKey @0 :Text;
  user @1 :Text;
}

struct SessionEnd {
  # Log off: the session's processes and display end. Reply: Ack. Names the session by id, or
  # (when sessionId is 0) by the station that shows it.
  sessionId @0 :UInt64;
  stationKey @1 :Text;
}

struct SessionListRequest {
  cursor @0 :Text;   # paging: empty for the first page, then the previous page's nextCursor
}

struct SessionList {
  sessions @0 :List(SessionRecord);
  nextCursor @1 :Text;   # not empty: more follow
}

struct Snapshot {
  # Reply to a Bus.SnapshotRequest for topic "session".
  info @0 :Bus.SnapshotResponse;
  stations @1 :List(Station);
  users @2 :List(User);
  sessions @3 :List(SessionRecord);
}

struct StationUpdate {
  station @0 :Station;
  removed @1 :Bool;
}

struct UserUpdate {
  user @0 :User;
  removed @1 :Bool;
}

struct SessionUpdate {
  session @0 :SessionRecord;
}

struct SendMessage {
  # Request to "session": show an instant message in the sessions of these stations (empty list:
  # every active session). Reply: SendMessageResult. Each delivered message gets an id; the
  # student's answer is published on topic "session.reply" as a MessageReply.
  stations @0 :List(Text);
  text @1 :Text;
  from @2 :Text;          # shown as the sender, e.g. the operator's name
}

struct SendMessageResult {
  delivered @0 :List(Delivery);
  struct Delivery {
    stationKey @0 :Text;
    messageId @1 :UInt64;   # 0: not delivered (no session, or its agent is not up)
    reason @2 :Text;
  }
}

struct MessageReply {
  # Event on "session.reply": what a student answered to message `messageId`.
  stationKey @0 :Text;
  user @1 :Text;
  messageId @2 :UInt64;
  text @3 :Text;
  atNs @4 :Int64;
}

struct ThumbnailWatch {
  # Request to "session": someone watches these stations (empty: all). Reply: Ack. While the
  # lease lasts, each watched session's screen is published as events on topic
  # "thumbnail.<station key>" (Thumbnail); renew before it ends. mp-session keeps no state for
  # it: each request is passed on to the sessions' agents, which hold the lease.
  stations @0 :List(Text);
  stream @1 :UInt8;        # 0: grid thumbnails; 1: a live view (larger, more often)
  intervalMs @2 :UInt32;
  width @3 :UInt16;
  maxBytes @4 :UInt32;
  leaseMs @5 :UInt32;      # 0: stop now
}

struct Thumbnail {
  # Event on "thumbnail.<station key>": the newest image of a session's screen.
  stationKey @0 :Text;
  sessionId @1 :UInt64;
  stream @2 :UInt8;
  jpeg @3 :Data;
  width @4 :UInt16;
  height @5 :UInt16;
  capturedAtNs @6 :Int64;
}

struct RemoteInput {
  # Request to "session": an operator's mouse and keyboard for the session on a station (take
  # control). Reply: Ack, or error unavailable when the session's agent is not up.
  stationKey @0 :Text;
  events @1 :List(Agent.InputEvent);
}

struct UserModify {
  # Request to "session": set a user's role and/or reset their password. Reply: Ack. Role
  # `unknown` and an empty password leave that part as it is; nothing to change is invalid.
  # The user's open sessions go on (a demoted admin's station session is not theirs to lose).
  name @0 :Text;
  role @1 :Role;
  password @2 :Text;
}

struct ProjectStart {
  # Request to "session": show the desktop of station `source` on `targets` (empty: every other
  # station whose transport has it now), their keyboards and mice blocked meanwhile. Encoded
  # once by the transport and fanned out. Reply: StationResults.
  source @0 :Text;
  targets @1 :List(Text);
}

struct ProjectStop {
  # Request to "session": these stations (empty: every one) show their own desktops again.
  # Reply: StationResults.
  targets @0 :List(Text);
}

struct StationResults {
  # Reply to requests that act on several stations: one result for each.
  results @0 :List(Result);
  struct Result {
    stationKey @0 :Text;
    ok @1 :Bool;
    reason @2 :Text;        # why not, when not ok
  }
}

struct StationDisconnect {
  # Request to "session": end the client connections of these stations; their sessions are
  # kept (disconnected) for the same user to come back to. Reply: StationResults.
  stations @0 :List(Text);
}

struct AppLaunch {
  # Request to "session": start the application the administrator listed under `app` in the
  # sessions of these stations (empty: every open session). Reply: StationResults.
  stations @0 :List(Text);
  app @1 :Text;
}

struct AppClose {
  # Request to "session": end that application's processes in the sessions of these stations
  # (empty: every open session). Reply: StationResults.
  stations @0 :List(Text);
  app @1 :Text;
}

struct AppListRequest {}

struct AppList {
  # Reply to AppListRequest: what AppLaunch and AppClose accept.
  apps @0 :List(App);
  struct App {
    name @0 :Text;
    command @1 :List(Text);
  }
}

struct StationAdmission {
  # Request to "session": whether stations never seen before may log on, and stations to admit
  # now (created if unknown, so they may log on while new ones may not; an admitted station is
  # no longer under the "new stations" policy). Reply: StationAdmissionState.
  setAllowNew @0 :Bool;   # false: leave allowNew as it is
  allowNew @1 :Bool;
  admit @2 :List(Text);
}

struct StationAdmissionState {
  allowNew @0 :Bool;
  admitted @1 :List(Text);   # the stations this request admitted
}
