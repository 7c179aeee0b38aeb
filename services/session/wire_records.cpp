#include "wire_records.h"

namespace mp::session {

void fill(mp::schema::Station::Builder out, const Station& station) {
  out.setKey(station.key);
  out.setName(station.name);
  out.setTransport(station.transport);
  out.setState(station.state);
  out.setClientName(station.client_name);
  out.setAddress(station.address);
  auto caps = out.initCapabilities();
  caps.setVideo(station.capabilities.video);
  caps.setKeyboard(station.capabilities.keyboard);
  caps.setMouse(station.capabilities.mouse);
  caps.setAudio(station.capabilities.audio);
  caps.setUsbStorage(station.capabilities.usb_storage);
  caps.setWidth(station.capabilities.width);
  caps.setHeight(station.capabilities.height);
  out.setAttachedAtNs(station.attached_at_ns);
  out.setSessionId(station.session_id);
  out.setShowing(station.showing);
  out.setAdmitted(station.admitted);
}

void fill(mp::schema::User::Builder out, const User& user) {
  out.setName(user.name);
  out.setRole(user.role);
  out.setCreatedAtNs(user.created_at_ns);
  out.setPasswordChangedAtNs(user.password_changed_at_ns);
}

void fill(mp::schema::SessionRecord::Builder out, const SessionRecord& record) {
  out.setId(record.id);
  out.setStationKey(record.station_key);
  out.setUser(record.user);
  out.setDisplay(record.display);
  out.setState(record.state);
  out.setStartedAtNs(record.started_at_ns);
  out.setEndedAtNs(record.ended_at_ns);
  out.setUnixUser(record.unix_user);
  out.setXauthority(record.xauthority);
  out.setWidth(record.width);
  out.setHeight(record.height);
  out.setAgentUp(record.agent_up);
  out.setMovedFrom(record.moved_from);
  out.setMovedAtNs(record.moved_at_ns);
}

}  // namespace mp::session
