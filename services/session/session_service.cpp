#include "session_service.h"

#include <chrono>

#include "snapshot_pages.h"
#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::Incoming;
using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;

std::function<std::int64_t()> realtime_clock(std::function<std::int64_t()> clock) {
  if (clock) return clock;
  return [] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
}

}  // namespace

SessionService::SessionService(SessionStore& store, const PasswordHasher& hasher,
                               Desktops& desktops, BusAccess bus, SessionServiceOptions options)
    : store_(store),
      desktops_(desktops),
      journal_(store, bus.publish, *this, realtime_clock(options.clock),
               JournalOptions{.max_applied_requests = options.max_applied_requests,
                              .applied_request_ttl = options.applied_request_ttl,
                              .prune_every = options.prune_every,
                              .ended_session_ttl = options.ended_session_ttl}),
      notice_(store, desktops, options.privacy_notice),
      starts_(store, journal_, desktops, notice_),
      stations_(store, journal_, starts_),
      users_(store, hasher, desktops, starts_, options.throttle),
      sessions_(store, journal_, desktops, starts_, users_, stations_, notice_, bus.answer_later,
                options.disconnected_timeout),
      screens_(store, desktops, bus.publish),
      messages_(store, desktops, bus.publish, [this] { return journal_.now_ns(); }),
      commands_(store, stations_, desktops, std::move(options.apps), bus.request, bus.answer_later,
                bus.defer) {
  desktops_.set_events(Desktops::Events{
      .ended = [this](std::uint64_t id,
                      const std::string& reason) { sessions_.desktop_ended(id, reason); },
      .agent_up = [this](std::uint64_t id, bool up) { sessions_.agent_up(id, up); },
      .agent_started = [this](std::uint64_t id, pid_t pid) { sessions_.agent_started(id, pid); },
      .reply = [this](std::uint64_t id, std::uint64_t message_id,
                      const std::string& text) { messages_.agent_replied(id, message_id, text); },
      .notice_acknowledged = [this](std::uint64_t id) { notice_.acknowledged(id); },
      .thumbnail =
          [this](std::uint64_t id, mp::schema::AgentThumbnail::Reader image) {
            screens_.agent_thumbnail(id, image);
          },
  });
}

void SessionService::committed(const std::vector<Change>& changes) {
  for (const auto& change : changes) {
    if (auto* record = std::get_if<SessionRecord>(&change)) desktops_.changed(*record);
  }
  for (const auto& change : changes) {
    if (auto* station = std::get_if<Station>(&change)) {
      commands_.station_changed(*station);
    } else if (auto* record = std::get_if<SessionRecord>(&change)) {
      commands_.session_changed(*record);
    }
  }
}

bool SessionService::handle(const Incoming& request, Envelope::Builder reply) {
  auto envelope = request.envelope();
  // A mutating request: applied in the journal's transaction (or answered from its memory).
  auto mutate = [&](const StateJournal::Apply& apply) {
    journal_.run_request(request, reply, apply);
    return true;
  };
  std::string_view channel = wire_view(request.header().getSource());
  switch (envelope.which()) {
    // Stations.
    case Envelope::STATION_ATTACH:
      return mutate([&](Mutation& m, Envelope::Builder r) {
        stations_.attach(m, envelope.getStationAttach(), r);
      });
    case Envelope::STATION_DETACH:
      return mutate([&](Mutation& m, Envelope::Builder r) {
        stations_.detach(m, envelope.getStationDetach(), r);
      });
    case Envelope::TRANSPORT_SYNC:
      return mutate([&](Mutation& m, Envelope::Builder r) {
        stations_.sync(m, envelope.getTransportSync(), r);
      });
    case Envelope::STATION_RENAME:
      return mutate([&](Mutation& m, Envelope::Builder r) {
        stations_.rename(m, envelope.getStationRename(), r);
      });
    case Envelope::STATION_ADMISSION:
      return mutate([&](Mutation& m, Envelope::Builder r) {
        stations_.admit(m, envelope.getStationAdmission(), r);
      });
    // Users.
    case Envelope::USER_ADD:
      return mutate(
          [&](Mutation& m, Envelope::Builder r) { users_.add(m, envelope.getUserAdd(), r); });
    case Envelope::USER_REMOVE:
      return mutate(
          [&](Mutation& m, Envelope::Builder r) { users_.remove(m, envelope.getUserRemove(), r); });
    case Envelope::USER_MODIFY:
      return mutate(
          [&](Mutation& m, Envelope::Builder r) { users_.modify(m, envelope.getUserModify(), r); });
    case Envelope::AUTHENTICATE:
      users_.authenticate(envelope.getAuthenticate(), channel, reply);
      return true;
    // Sessions.
    case Envelope::CREDENTIALS:
      return mutate([&](Mutation& m, Envelope::Builder r) {
        sessions_.logon(m, envelope.getCredentials(), channel, r);
      });
    case Envelope::SESSION_START:
      return mutate([&](Mutation& m, Envelope::Builder r) {
        sessions_.start(m, envelope.getSessionStart(), r);
      });
    case Envelope::SESSION_END:
      return mutate(
          [&](Mutation& m, Envelope::Builder r) { sessions_.end(m, envelope.getSessionEnd(), r); });
    // Reads, in pages.
    case Envelope::USER_LIST_REQUEST:
      write_user_page(store_, wire_view(envelope.getUserListRequest().getCursor()), reply);
      return true;
    case Envelope::STATION_LIST_REQUEST:
      write_station_page(store_, wire_view(envelope.getStationListRequest().getCursor()), reply);
      return true;
    case Envelope::SESSION_LIST_REQUEST:
      write_session_page(store_, wire_view(envelope.getSessionListRequest().getCursor()), reply);
      return true;
    case Envelope::SNAPSHOT_REQUEST:
      snapshot(envelope.getSnapshotRequest(), reply);
      return true;
    // To and from the agents.
    case Envelope::SEND_MESSAGE:
      messages_.send(envelope.getSendMessage(), wire_text(request.header().getOperator()), reply);
      return true;
    case Envelope::THUMBNAIL_WATCH:
      screens_.watch_thumbnails(envelope.getThumbnailWatch(), reply);
      return true;
    case Envelope::REMOTE_INPUT:
      screens_.remote_input(envelope.getRemoteInput(), reply);
      return true;
    // Through the transports, and applications.
    case Envelope::PROJECT_START:
      commands_.project_start(envelope.getProjectStart(), reply);
      return true;
    case Envelope::PROJECT_STOP:
      commands_.project_stop(envelope.getProjectStop(), reply);
      return true;
    case Envelope::STATION_DISCONNECT:
      commands_.disconnect(envelope.getStationDisconnect(), reply);
      return true;
    case Envelope::APP_LAUNCH:
      commands_.launch(envelope.getAppLaunch(), reply);
      return true;
    case Envelope::APP_CLOSE:
      commands_.close(envelope.getAppClose(), reply);
      return true;
    case Envelope::APP_LIST_REQUEST:
      commands_.list_apps(reply);
      return true;
    default:
      return false;
  }
}

void SessionService::snapshot(mp::schema::SnapshotRequest::Reader body, Envelope::Builder reply) {
  if (wire_view(body.getTopic()) != kSnapshotTopic) {
    set_error(reply, Error::Kind::INVALID,
              "mp-session serves the snapshot of topic 'session' only");
    return;
  }
  write_snapshot_page(store_, kSnapshotTopic, wire_view(body.getCursor()), reply);
}

}  // namespace mp::session
