#include "screen_relay.h"

#include <set>
#include <string>

#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::SessionState;

}  // namespace

ScreenRelay::ScreenRelay(SessionStore& store, Desktops& desktops, Publish publish)
    : store_(store), desktops_(desktops), publish_(std::move(publish)) {}

void ScreenRelay::watch_thumbnails(mp::schema::ThumbnailWatch::Reader body,
                                   Envelope::Builder reply) {
  ThumbnailRequest request;
  if (auto e = read_thumbnail_watch(body, &request); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  std::set<std::string> wanted;
  for (auto key : body.getStations()) wanted.insert(wire_text(key));
  std::size_t passed = 0, open = 0;
  for (const auto& record : store_.open_sessions()) {
    if (!wanted.empty() && !wanted.contains(record.station_key)) continue;
    ++open;
    // An agent that is not up gets the next renewal; a disconnected session's screen still
    // runs and is shown too.
    std::string reason;
    if (desktops_.request_thumbnails(record.id, request, &reason)) ++passed;
  }
  reply.initAck().setDetail("passed to " + std::to_string(passed) + " of " + std::to_string(open) +
                            " sessions");
}

void ScreenRelay::remote_input(mp::schema::RemoteInput::Reader body, Envelope::Builder reply) {
  if (auto e = check_remote_input(body); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  std::string key = wire_text(body.getStationKey());
  auto station = store_.station(key);
  if (!station) {
    set_error(reply, Error::Kind::INVALID, "no such station: " + key);
    return;
  }
  auto record = station->session_id != 0 ? store_.session(station->session_id) : std::nullopt;
  if (!record || record->state == SessionState::ENDED) {
    set_error(reply, Error::Kind::UNAVAILABLE, "station " + key + " has no session");
    return;
  }
  std::string reason;
  if (!desktops_.send_input(record->id, body.getEvents(), &reason)) {
    set_error(reply, Error::Kind::UNAVAILABLE, reason);
    return;
  }
  reply.initAck();
}

void ScreenRelay::agent_thumbnail(std::uint64_t id, mp::schema::AgentThumbnail::Reader thumbnail) {
  auto record = store_.session(id);
  if (!record || record->state == SessionState::ENDED) return;
  std::string topic = std::string(kThumbnailTopicPrefix) + record->station_key;
  // An event, not state: no version.
  publish_(
      topic,
      [&](Envelope::Builder e) {
        auto out = e.initThumbnail();
        out.setStationKey(record->station_key);
        out.setSessionId(id);
        out.setStream(thumbnail.getStream());
        out.setJpeg(thumbnail.getJpeg());
        out.setWidth(thumbnail.getWidth());
        out.setHeight(thumbnail.getHeight());
        out.setCapturedAtNs(thumbnail.getCapturedAtNs());
      },
      0);
}

}  // namespace mp::session
