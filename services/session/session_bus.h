// mp-session on the bus: its service name, the topics it publishes, and how its parts reach the
// bus and the event loop. main() binds BusAccess to its Client and Reactor; tests bind it to
// theirs, or to recorders.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "mp/bus/client.h"
#include "mp/bus/responder.h"

namespace mp::session {

inline constexpr std::string_view kServiceName = "session";
inline constexpr std::string_view kSnapshotTopic = "session";
inline constexpr std::string_view kStationTopic = "session.station";
inline constexpr std::string_view kUserTopic = "session.user";
inline constexpr std::string_view kSessionTopic = "session.session";
inline constexpr std::string_view kReplyTopic = "session.reply";
// Images of session screens, events on "thumbnail.<station key>": outside "session" so that
// the replicas of mp-session's state do not receive them.
inline constexpr std::string_view kThumbnailTopicPrefix = "thumbnail.";

// Publishes a numbered update of the state, or an event (state_version 0): Client::publish.
using Publish = std::function<void(std::string_view topic, const mp::bus::Build& body,
                                   std::uint64_t state_version)>;
// The Responder of the request being handled: Client::answer_later.
using AnswerLater = std::function<mp::bus::Responder()>;
// Sends a request to another service (a transport) and calls back with its reply:
// Client::request.
using ServiceRequest = std::function<void(const std::string& service, const mp::bus::Build& body,
                                          std::function<void(mp::bus::Reply)> done)>;
// Runs a callback on the next turn of the event loop: Reactor::after.
using Defer = std::function<void(std::function<void()>)>;

struct BusAccess {
  Publish publish;
  AnswerLater answer_later;
  ServiceRequest request;
  Defer defer;
};

}  // namespace mp::session
