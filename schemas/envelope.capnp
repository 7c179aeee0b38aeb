@0xdaa67a899616a797;
# Every message on the bus is [topic or routing frames][Envelope]. One envelope, one dispatch:
# a service that meets a body it does not know answers `unimplemented`, echoing the envelope
# (as capnp's rpc.capnp Message does). Evolve by ordinal only: new bodies get higher ordinals.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("mp::schema");

using Bus = import "bus.capnp";
using Transport = import "transport.capnp";
using Session = import "session.capnp";
using Policy = import "policy.capnp";
using Supervisor = import "supervisor.capnp";
using Agent = import "agent.capnp";
using Webfilter = import "webfilter.capnp";

struct Header {
  source @0 :Text;          # the sending service's bus name
  incarnation @1 :UInt64;   # random per process start; a new value means the sender restarted
  sequence @2 :UInt64;      # per-incarnation counter of messages sent
  correlationId @3 :UInt64; # a reply carries its request's id
  sentAtNs @4 :Int64;       # CLOCK_REALTIME, nanoseconds
  deadlineNs @5 :Int64;     # requests: drop/answer unavailable after this (CLOCK_REALTIME ns)
  idempotencyKey @6 :Text;  # mutating requests: a retry with the same key is applied once
  stateVersion @7 :UInt64;  # numbered state updates (Clone): the authority's version after it
  operator @8 :Text;        # the person a request acts for (mpctl's user, a dashboard login)
}

struct Envelope {
  header @0 :Header;

  union {
    none @1 :Void;
    unimplemented @2 :Envelope;   # echo of a request whose body the receiver does not know
    error @3 :Bus.Error;
    ack @4 :Bus.Ack;
    probe @5 :Data;               # opaque payload: liveness probes and benchmarks

    # bus
    register @6 :Bus.Register;
    unregister @7 :Bus.Unregister;
    heartbeat @8 :Bus.Heartbeat;
    presence @9 :Bus.Presence;
    snapshotRequest @10 :Bus.SnapshotRequest;
    busStatusRequest @11 :Bus.BusStatusRequest;
    busStatus @12 :Bus.BusStatus;

    # transport contract
    stationAttach @13 :Transport.StationAttach;
    stationDetach @14 :Transport.StationDetach;
    transportSync @15 :Transport.TransportSync;
    credentials @16 :Transport.Credentials;
    displayAssignment @17 :Transport.DisplayAssignment;
    simulateStations @18 :Transport.SimulateStations;

    # session
    userAdd @19 :Session.UserAdd;
    userRemove @20 :Session.UserRemove;
    userListRequest @21 :Session.UserListRequest;
    userList @22 :Session.UserList;
    authenticate @23 :Session.Authenticate;
    logonResult @24 :Session.LogonResult;
    stationRename @25 :Session.StationRename;
    stationListRequest @26 :Session.StationListRequest;
    stationList @27 :Session.StationList;
    sessionStart @28 :Session.SessionStart;
    sessionEnd @29 :Session.SessionEnd;
    sessionListRequest @30 :Session.SessionListRequest;
    sessionList @31 :Session.SessionList;
    sessionSnapshot @32 :Session.Snapshot;
    stationUpdate @33 :Session.StationUpdate;
    userUpdate @34 :Session.UserUpdate;
    sessionUpdate @35 :Session.SessionUpdate;
    sessionRecord @36 :Session.SessionRecord;

    # policy
    setBlock @37 :Policy.SetBlock;
    effectivePolicy @38 :Policy.EffectivePolicy;

    # supervisor
    statusRequest @39 :Supervisor.StatusRequest;
    statusReport @40 :Supervisor.StatusReport;
    serviceControl @41 :Supervisor.ServiceControl;
    alarm @42 :Supervisor.Alarm;

    # policy (grown)
    setWebMode @43 :Policy.SetWebMode;
    editWebList @44 :Policy.EditWebList;
    setUsbLock @45 :Policy.SetUsbLock;
    groupEdit @46 :Policy.GroupEdit;
    groupListRequest @47 :Policy.GroupListRequest;
    groupList @48 :Policy.GroupList;
    scheduleAdd @49 :Policy.ScheduleAdd;
    scheduleRemove @50 :Policy.ScheduleRemove;
    scheduleListRequest @51 :Policy.ScheduleListRequest;
    scheduleList @52 :Policy.ScheduleList;
    schedule @53 :Policy.Schedule;
    policyShowRequest @54 :Policy.PolicyShowRequest;
    policyReport @55 :Policy.PolicyReport;
    policySnapshot @56 :Policy.PolicySnapshot;
    auditQuery @57 :Policy.AuditQuery;
    auditLog @58 :Policy.AuditLog;

    # policy: shared domain lists
    domainListFetch @59 :Policy.DomainListFetch;
    domainListPage @60 :Policy.DomainListPage;

    # session (grown)
    sendMessage @61 :Session.SendMessage;
    sendMessageResult @62 :Session.SendMessageResult;
    messageReply @63 :Session.MessageReply;

    # agent channel (mp-session <-> mp-agent, not the shared bus)
    agentHeartbeat @64 :Agent.AgentHeartbeat;
    agentState @65 :Agent.AgentState;
    agentShowMessage @66 :Agent.AgentShowMessage;
    agentReply @67 :Agent.AgentReply;
    agentNoticeAcknowledged @68 :Agent.AgentNoticeAcknowledged;

    # thumbnails and take control
    thumbnailWatch @69 :Session.ThumbnailWatch;
    thumbnail @70 :Session.Thumbnail;
    remoteInput @71 :Session.RemoteInput;
    agentThumbnailRequest @72 :Agent.AgentThumbnailRequest;
    agentThumbnail @73 :Agent.AgentThumbnail;
    agentInput @74 :Agent.AgentInput;

    # session (grown)
    userModify @75 :Session.UserModify;

    # policy (grown)
    auditRecord @76 :Policy.AuditRecord;

    # projection, disconnect, applications, power
    projectStart @77 :Session.ProjectStart;
    projectStop @78 :Session.ProjectStop;
    stationResults @79 :Session.StationResults;
    stationShow @80 :Transport.StationShow;
    stationDisconnect @81 :Session.StationDisconnect;
    stationDisconnectRequest @82 :Transport.StationDisconnectRequest;
    appLaunch @83 :Session.AppLaunch;
    appClose @84 :Session.AppClose;
    appListRequest @85 :Session.AppListRequest;
    appList @86 :Session.AppList;
    powerRequest @87 :Supervisor.PowerRequest;

    # student-proof enforcement
    stationScreen @88 :Transport.StationScreen;
    stationAdmission @89 :Session.StationAdmission;
    stationAdmissionState @90 :Session.StationAdmissionState;
    webAdmit @91 :Webfilter.WebAdmit;
  }
}
