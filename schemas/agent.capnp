@0x8c7f3cd5efb10448;
# The agent channel: mp-session <-> the mp-agent inside one session. Not the shared bus: each
# session has its own ZeroMQ socket (mp-session binds ROUTER, the agent connects DEALER) in a
# directory only the session's user and root can enter, so a student's programs cannot reach
# the bus. Frames are [Envelope] (as on the bus) with these bodies. Evolve by ordinal only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

struct AgentHeartbeat {
  # agent -> session, every 250 ms and at once after connecting. mp-session answers with an
  # AgentState whenever (stateIncarnation, stateVersion) is not the state it holds now, so an
  # agent that restarted, or a session service that restarted, converge without a handshake.
  sessionId @0 :UInt64;
  pid @1 :Int32;
  display @2 :Text;
  stateIncarnation @3 :UInt64;   # of the last AgentState applied; 0: none yet
  stateVersion @4 :UInt64;
  lockShown @5 :Bool;            # the lock overlay is mapped and holds the grabs
}

struct AgentState {
  # session -> agent: the whole desired state of the session's screen.
  stateIncarnation @0 :UInt64;   # random per mp-session process
  stateVersion @1 :UInt64;
  locked @2 :Bool;
  lockMessage @3 :Text;
  privacyNotice @4 :Text;        # shown once at first logon until dismissed; empty: none
}

struct AgentShowMessage {
  # session -> agent: an instant message window; the student may answer.
  messageId @0 :UInt64;
  from @1 :Text;
  text @2 :Text;
}

struct AgentReply {
  # agent -> session: the student's answer to a message.
  messageId @0 :UInt64;
  text @1 :Text;
}

struct AgentNoticeAcknowledged {
  # agent -> session: the student dismissed the privacy notice; not shown again for this user.
}
