#include "station_registry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "request_limits.h"
#include "validation.h"
#include "wire_text.h"

namespace mp::session {

namespace {

using mp::bus::set_error;
using mp::schema::Envelope;
using mp::schema::Error;
using mp::schema::SessionState;
using mp::schema::StationState;

constexpr std::size_t kMaxClientNameBytes = 256;
constexpr std::size_t kMaxReasonBytes = 1024;
// Desktop sizes a transport may ask for; 0 means "no preference".
constexpr std::uint16_t kDefaultWidth = 1920, kDefaultHeight = 1080;
constexpr std::uint16_t kMinWidth = 640, kMaxWidth = 4096;
constexpr std::uint16_t kMinHeight = 480, kMaxHeight = 2160;

std::uint16_t clamp_size(std::uint16_t requested, std::uint16_t fallback, std::uint16_t low,
                         std::uint16_t high) {
  if (requested == 0) return fallback;
  return std::clamp(requested, low, high);
}

}  // namespace

std::string check_station_info(mp::schema::StationInfo::Reader info) {
  if (auto e = check_station_key(wire_view(info.getKey())); !e.empty()) return e;
  if (auto e = check_transport_name(wire_view(info.getTransport())); !e.empty()) return e;
  if (auto e = check_text("clientName", wire_view(info.getClientName()), kMaxClientNameBytes);
      !e.empty()) {
    return e;
  }
  return check_text("address", wire_view(info.getAddress()), kMaxAddressBytes);
}

StationRegistry::StationRegistry(SessionStore& store, StateJournal& journal, DesktopStarts& starts)
    : store_(store), journal_(journal), starts_(starts) {}

Station StationRegistry::attach_station(Mutation& m, mp::schema::StationInfo::Reader info) {
  std::string key = wire_text(info.getKey());
  auto existing = store_.station(key);
  Station station = existing ? *existing : Station{.key = key, .name = key};
  station.transport = wire_text(info.getTransport());
  station.client_name = wire_text(info.getClientName());
  station.address = wire_text(info.getAddress());
  auto caps = info.getCapabilities();
  station.capabilities = Capabilities{
      .video = caps.getVideo(),
      .keyboard = caps.getKeyboard(),
      .mouse = caps.getMouse(),
      .audio = caps.getAudio(),
      .usb_storage = caps.getUsbStorage(),
      .width = clamp_size(caps.getWidth(), kDefaultWidth, kMinWidth, kMaxWidth),
      .height = clamp_size(caps.getHeight(), kDefaultHeight, kMinHeight, kMaxHeight),
  };
  if (station.state != StationState::ATTACHED) {
    station.state = StationState::ATTACHED;
    station.attached_at_ns = m.now_ns;
  }
  if (!existing || station != *existing) {
    store_.put_station(station);
    m.changes.emplace_back(station);
    spdlog::info("station {} attached via {}", station.key, station.transport);
  }
  return station;
}

void StationRegistry::detach_station(Mutation& m, Station station) {
  if (station.state == StationState::DETACHED) return;
  // A desktop starting there is not kept: nobody is there to see it.
  if (std::uint64_t id = starts_.on_station(station.key); id != 0) {
    starts_.abandon_after(m, id, "station '" + station.key + "' went away");
  }
  station.state = StationState::DETACHED;
  store_.put_station(station);
  m.changes.emplace_back(station);
  // The session outlives the transport: kept, disconnected, until log off.
  if (station.session_id != 0) {
    if (auto record = store_.session(station.session_id);
        record && record->state == SessionState::ACTIVE) {
      record->state = SessionState::DISCONNECTED;
      store_.update_session(*record);
      m.changes.emplace_back(*record);
    }
  }
}

void StationRegistry::mark_logged_on(Mutation& m, Station& station) {
  if (station.logged_on) return;
  station.logged_on = true;
  store_.put_station(station);
  m.changes.emplace_back(station);
}

void StationRegistry::attach(Mutation& m, mp::schema::StationAttach::Reader body,
                             Envelope::Builder reply) {
  auto info = body.getStation();
  if (auto e = check_station_info(info); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  Station station = attach_station(m, info);
  auto assignment = reply.initDisplayAssignment();
  assignment.setStationKey(station.key);
  assignment.setWidth(station.capabilities.width);
  assignment.setHeight(station.capabilities.height);
  if (station.session_id == 0) return;
  // Only an active session is shown; a disconnected one waits for its user's logon.
  if (auto record = store_.session(station.session_id);
      record && record->state == SessionState::ACTIVE) {
    assignment.setDisplay(record->display);
    assignment.setXauthority(record->xauthority);
    assignment.setSessionId(record->id);
  }
}

void StationRegistry::detach(Mutation& m, mp::schema::StationDetach::Reader body,
                             Envelope::Builder reply) {
  std::string key = wire_text(body.getKey());
  if (auto e = check_station_key(key); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  if (auto e = check_text("reason", wire_view(body.getReason()), kMaxReasonBytes); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto station = store_.station(key);
  if (!station) {
    // A transport lets go of a station whose logon failed: nothing was stored for it.
    reply.initAck().setDetail("no station '" + key + "'");
    return;
  }
  if (station->state != StationState::DETACHED) {
    spdlog::info("station {} detached: {}", key, wire_view(body.getReason()));
  }
  detach_station(m, *station);
  reply.initAck();
}

void StationRegistry::sync(Mutation& m, mp::schema::TransportSync::Reader body,
                           Envelope::Builder reply) {
  std::string transport = wire_text(body.getTransport());
  if (auto e = check_transport_name(transport); !e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto listed = body.getStations();
  if (listed.size() > kMaxStationsPerRequest) {
    set_error(reply, Error::Kind::INVALID,
              "more than " + std::to_string(kMaxStationsPerRequest) + " stations in one sync");
    return;
  }
  // Check everything before changing anything.
  std::set<std::string> keys;
  for (auto info : listed) {
    std::string e = check_station_info(info);
    if (e.empty() && wire_view(info.getTransport()) != transport) {
      e = "station '" + wire_text(info.getKey()) + "' names transport '" +
          wire_text(info.getTransport()) + "' in a sync from '" + transport + "'";
    }
    if (e.empty() && !keys.insert(wire_text(info.getKey())).second) {
      e = "station '" + wire_text(info.getKey()) + "' is listed twice";
    }
    if (!e.empty()) {
      set_error(reply, Error::Kind::INVALID, e);
      return;
    }
  }
  for (auto info : listed) attach_station(m, info);
  for (Station& station : store_.stations_of_transport(transport)) {
    if (!keys.contains(station.key) && station.state == StationState::ATTACHED) {
      spdlog::info("station {} detached: missing from {}'s sync", station.key, transport);
      detach_station(m, station);
    }
  }
  reply.initAck().setDetail(std::to_string(listed.size()) + " stations");
}

void StationRegistry::admit(Mutation& m, mp::schema::StationAdmission::Reader body,
                            Envelope::Builder reply) {
  auto keys = body.getAdmit();
  if (keys.size() > kMaxStationsPerRequest) {
    set_error(reply, Error::Kind::INVALID,
              "more than " + std::to_string(kMaxStationsPerRequest) + " stations in one request");
    return;
  }
  for (auto key : keys) {
    if (auto e = check_station_key(wire_view(key)); !e.empty()) {
      set_error(reply, Error::Kind::INVALID, e);
      return;
    }
  }
  if (body.getSetAllowNew() && body.getAllowNew() != store_.allow_new_stations()) {
    store_.set_allow_new_stations(body.getAllowNew());
    spdlog::info("new stations {} log on", body.getAllowNew() ? "may" : "may not");
  }
  auto state = reply.initStationAdmissionState();
  state.setAllowNew(store_.allow_new_stations());
  auto admitted = state.initAdmitted(keys.size());
  for (unsigned i = 0; i < keys.size(); ++i) {
    std::string key = wire_text(keys[i]);
    admitted.set(i, key);
    auto existing = store_.station(key);
    // A station admitted before it ever connected waits, detached, for its transport.
    Station station =
        existing ? *existing
                 : Station{.key = key,
                           .name = key,
                           .state = StationState::DETACHED,
                           .capabilities = {.width = kDefaultWidth, .height = kDefaultHeight}};
    if (existing && existing->admitted) continue;
    station.admitted = true;
    store_.put_station(station);
    m.changes.emplace_back(station);
    spdlog::info("station {} admitted", key);
  }
}

void StationRegistry::rename(Mutation& m, mp::schema::StationRename::Reader body,
                             Envelope::Builder reply) {
  std::string key = wire_text(body.getKey());
  std::string name = wire_text(body.getName());
  std::string e = check_station_key(key);
  if (e.empty()) e = check_station_name(name);
  if (!e.empty()) {
    set_error(reply, Error::Kind::INVALID, e);
    return;
  }
  auto station = store_.station(key);
  if (!station) {
    set_error(reply, Error::Kind::INVALID, "no station '" + key + "'");
    return;
  }
  if (station->name != name) {
    station->name = name;
    store_.put_station(*station);
    m.changes.emplace_back(*station);
  }
  reply.initAck();
}

void StationRegistry::set_showing(const std::vector<std::string>& stations,
                                  const std::string& source) {
  journal_.run_internal([&](Mutation& m) {
    for (const auto& key : stations) {
      auto station = store_.station(key);
      if (!station || station->showing == source) continue;
      station->showing = source;
      store_.put_station(*station);
      m.changes.emplace_back(*station);
    }
  });
}

}  // namespace mp::session
