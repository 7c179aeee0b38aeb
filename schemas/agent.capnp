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

struct AgentThumbnailRequest {
  # session -> agent: send images of the session's screen until `leaseMs` from now; the next
  # request renews (or changes) the stream. Stream 0 is the dashboard's grid, stream 1 a live
  # view of one station (larger, more often). Pixels for stations never travel on the bus: only
  # these small JPEGs do.
  stream @0 :UInt8;
  intervalMs @1 :UInt32;   # at most one image per interval; an unchanged screen is not resent
  width @2 :UInt16;        # of the image; the height keeps the screen's proportions
  maxBytes @3 :UInt32;     # JPEG size limit: the quality (then the size) is lowered to fit
  leaseMs @4 :UInt32;      # 0: stop this stream now
}

struct AgentThumbnail {
  # agent -> session: one image of a stream.
  stream @0 :UInt8;
  jpeg @1 :Data;
  width @2 :UInt16;
  height @3 :UInt16;
  capturedAtNs @4 :Int64;  # CLOCK_REALTIME
}

struct AgentInput {
  # session -> agent: an operator's input for the session (take control), injected with XTest.
  events @0 :List(InputEvent);
}

struct InputEvent {
  union {
    pointer @0 :PointerMove;
    button @1 :PointerButton;
    key @2 :KeyStroke;
  }
  struct PointerMove {
    # Where on the screen, as a fraction of its width and height in 1/65535ths, so the sender
    # needs no screen size (the browser shows a scaled image).
    x @0 :UInt16;
    y @1 :UInt16;
  }
  struct PointerButton {
    button @0 :UInt8;      # 1 left, 2 middle, 3 right, 4/5 wheel up/down
    down @1 :Bool;
  }
  struct KeyStroke {
    keysym @0 :UInt32;     # an X keysym (a Unicode character c is 0x01000000 + c)
    down @1 :Bool;
  }
}
