// The operators' screen requests. Thumbnail watches and remote input pass through to the agents
// of the sessions they name (mp-session keeps no state for them: the agent holds a stream's
// lease until the next renewal or its end), and the agents' images are published as events on
// "thumbnail.<station key>" for the dashboard.
#pragma once

#include <cstdint>

#include "desktops.h"
#include "envelope.capnp.h"
#include "session_bus.h"
#include "session_store.h"

namespace mp::session {

class ScreenRelay {
 public:
  ScreenRelay(SessionStore& store, Desktops& desktops, Publish publish);

  void watch_thumbnails(mp::schema::ThumbnailWatch::Reader body,
                        mp::schema::Envelope::Builder reply);
  void remote_input(mp::schema::RemoteInput::Reader body, mp::schema::Envelope::Builder reply);
  // An image from the agent of session `session_id` (checked by the agent channel).
  void agent_thumbnail(std::uint64_t session_id, mp::schema::AgentThumbnail::Reader thumbnail);

 private:
  SessionStore& store_;
  Desktops& desktops_;
  Publish publish_;
};

}  // namespace mp::session
