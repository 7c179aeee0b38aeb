#include "mp/bus/responder.h"

#include <spdlog/spdlog.h>

#include <exception>
#include <string>
#include <utility>

#include "mp/bus/frame.h"

namespace mp::bus {

using mp::schema::Envelope;
using mp::schema::Error;

Responder::Responder(Responder&& other) noexcept : send_(std::exchange(other.send_, nullptr)) {}

Responder& Responder::operator=(Responder&& other) noexcept {
  if (this != &other) {
    drop();
    send_ = std::exchange(other.send_, nullptr);
  }
  return *this;
}

Responder::~Responder() { drop(); }

void Responder::reply(const Build& body) {
  // Cleared first: a Send that ends up dropping this Responder again finds nothing to do.
  Send send = std::exchange(send_, nullptr);
  if (send) send(body);
}

void Responder::fail(Error::Kind kind, std::string_view text) {
  reply([kind, text](Envelope::Builder e) { set_error(e, kind, text); });
}

void Responder::drop() noexcept {
  if (!send_) return;
  spdlog::warn("a request was dropped without an answer; answering 'failed'");
  try {
    fail(Error::Kind::FAILED, "the service dropped the request without answering it");
  } catch (const std::exception& e) {
    spdlog::error("answering a dropped request failed: {}", e.what());
  } catch (...) {
    spdlog::error("answering a dropped request failed");
  }
}

}  // namespace mp::bus
