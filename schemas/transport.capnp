@0xf01684051fe07aa6;
# The transport contract: the swap point between station transports (RDP, USB hub, video, fake)
# and mp-session. Transports announce stations, pass credentials, and are told which display
# a station shows. Evolve by ordinal only.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

struct Capabilities {
  video @0 :Bool;
  keyboard @1 :Bool;
  mouse @2 :Bool;
  audio @3 :Bool;
  usbStorage @4 :Bool;
  width @5 :UInt16;   # requested desktop size; mp-session clamps it to its limits
  height @6 :UInt16;
}

struct StationInfo {
  key @0 :Text;          # stable: "rdp:<client name>", "usb:1-2.3", "video:card0-HDMI-A-1"
  transport @1 :Text;    # the transport service's bus name
  clientName @2 :Text;
  address @3 :Text;      # where the station is, e.g. the RDP client's address
  capabilities @4 :Capabilities;
}

struct StationAttach {
  # Request to "session". Reply: DisplayAssignment. Idempotent per station key.
  station @0 :StationInfo;
}

struct StationDetach {
  # Request to "session". Reply: Ack. The station's session is kept.
  key @0 :Text;
  reason @1 :Text;
}

struct TransportSync {
  # Request to "session": the complete set of stations this transport has now. Sent after the
  # transport (re)starts and whenever mp-session comes back. Stations of this transport missing
  # from the list are marked detached. Reply: Ack.
  transport @0 :Text;
  stations @1 :List(StationInfo);
}

struct Credentials {
  # Request to "session" from a transport: a logon attempt on a station. Reply: session.LogonResult.
  stationKey @0 :Text;
  user @1 :Text;
  password @2 :Text;
  clientAddress @3 :Text;
  station @4 :StationInfo;   # since 0.3: the station to attach once the logon succeeds, for
                             # transports without a logon screen (RDP): a station nobody logged
                             # on to is never stored. Unset (empty key): attached before.
}

struct DisplayAssignment {
  # Which X display the transport serves for this station. `display` is empty while the
  # station has no session yet (before logon).
  stationKey @0 :Text;
  display @1 :Text;
  xauthority @2 :Text;
  width @3 :UInt16;
  height @4 :UInt16;
  sessionId @5 :UInt64;
}

struct StationShow {
  # Request from "session" to the station's transport: show `display` on the station instead of
  # its own session's (projection), or (display empty) its own again. Reply: Ack; error invalid
  # when the transport does not have the station now.
  stationKey @0 :Text;
  display @1 :Text;
  xauthority @2 :Text;
  width @3 :UInt16;
  height @4 :UInt16;
  viewOnly @5 :Bool;      # the station's keyboard and mouse reach nothing meanwhile
  sourceKey @6 :Text;     # the station whose desktop it is (for logs)
}

struct StationDisconnectRequest {
  # Request from "session" to the station's transport: end the station's client connection.
  # Its session is kept (disconnected). Reply: Ack; error invalid when it does not have it.
  stationKey @0 :Text;
  reason @1 :Text;
}

struct SimulateStations {
  # Only the fake transport understands this (others answer unimplemented):
  # tests drive it to attach and detach simulated stations. Reply: Ack.
  attach @0 :List(StationInfo);
  detach @1 :List(Text);
}

struct StationScreen {
  # Event on "transport.screen.<station key>" from the station's transport whenever what it
  # draws on the station changes: the transport's own view, not the session's. A block is drawn
  # by the transport (the session's user cannot remove it), so this is when a lock is really on
  # the station's screen.
  stationKey @0 :Text;
  shows @1 :Shows;
  lockMessage @2 :Text;      # shows == lock: the text on it
  policyVersion @3 :UInt64;  # the effective-policy state version the transport applied

  enum Shows {
    unknown @0;
    desktop @1;      # the station's own session
    lock @2;         # the transport's lock picture; no input reaches the session
    projection @3;   # another station's desktop (StationShow)
    logon @4;        # a logon screen (local stations)
    identify @5;     # an identification letter (local stations)
    nothing @6;      # no session and no logon screen
  }
}
