// Reading the broker's tap (monitoring), and turning envelopes into text for people and tools.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <zmq.hpp>

#include "mp/bus/endpoints.h"
#include "mp/bus/frame.h"
#include "mp/bus/reactor.h"

namespace mp::bus {

// Tap topics: events keep their topic; requests are "req.<service>", replies "rep.<service>",
// worker registration and departure "ctl.<service>". Heartbeats are not tapped.
class TapSubscriber {
 public:
  using Handler = std::function<void(std::string_view topic, const Incoming& message)>;
  TapSubscriber(zmq::context_t& context, Reactor& reactor, const Endpoints& endpoints,
                const std::string& topic_prefix, Limits limits, Handler handler);
  ~TapSubscriber();
  std::uint64_t rejected_frames() const { return rejected_; }

 private:
  void on_readable();
  Reactor& reactor_;
  Limits limits_;
  Handler handler_;
  zmq::socket_t socket_;
  std::uint64_t rejected_ = 0;
};

// What replaces a password in everything a tap carries or prints.
inline constexpr const char* kRedacted = "<redacted>";
// Whether the body holds a password: credentials, authenticate, userAdd, userModify.
bool carries_secret(mp::schema::Envelope::Reader envelope);
// Header and body of `from` into `to`, every non-empty password replaced by kRedacted (an
// empty one stays empty: userModify's "leave the password as it is").
void copy_redacted(mp::schema::Envelope::Reader from, mp::schema::Envelope::Builder to);
// The frame the broker's tap carries for `message`: its own bytes, or a redacted copy when it
// carries a secret, so no monitor ever sees a password.
zmq::message_t tap_frame(const Incoming& message);

// One line of JSON (Cap'n Proto's JSON codec): {"header":{...},"stationAttach":{...}}.
// Passwords are printed as kRedacted.
std::string envelope_to_json(mp::schema::Envelope::Reader envelope);
// Cap'n Proto's text format, one line. Passwords are printed as kRedacted.
std::string envelope_to_text(mp::schema::Envelope::Reader envelope);

}  // namespace mp::bus
