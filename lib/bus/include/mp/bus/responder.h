// The answer to one request, given later: a request handler that cannot answer at once (it waits
// for a process, a timer, another service) takes a Responder and returns; reply() sends the answer
// when it is ready. Move-only, one answer at most, used on the reactor's thread only.
#pragma once

#include <functional>
#include <string_view>

#include "envelope.capnp.h"

namespace mp::bus {

// Fills an envelope's body. The header is the client's to fill.
using Build = std::function<void(mp::schema::Envelope::Builder)>;

class Responder {
 public:
  // Called once with the body of the answer; Client::answer_later() makes one that sends it.
  using Send = std::function<void(const Build& body)>;

  Responder() = default;  // answers nothing
  explicit Responder(Send send) : send_(std::move(send)) {}
  Responder(Responder&& other) noexcept;
  // A Responder that was still pending is dropped first (answering `failed`).
  Responder& operator=(Responder&& other) noexcept;
  // Dropped without an answer: `failed`, so the requester learns it now, not at its deadline.
  ~Responder();
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  bool pending() const { return static_cast<bool>(send_); }
  // Sends the answer; later calls do nothing.
  void reply(const Build& body);
  void fail(mp::schema::Error::Kind kind, std::string_view text);

 private:
  void drop() noexcept;

  Send send_;
};

}  // namespace mp::bus
