#include "mp/service/idempotency.h"

#include <stdexcept>
#include <utility>

#include "mp/bus/frame.h"

namespace mp::service {

AppliedRequest record_reply(std::string body, mp::schema::Envelope::Reader reply) {
  return AppliedRequest{.body = std::move(body), .reply = mp::bus::body_to_bytes(reply)};
}

bool answer_retry(const std::optional<AppliedRequest>& applied, const std::string& key,
                  const std::string& body, mp::schema::Envelope::Builder reply) {
  if (!applied) return false;
  if (applied->body != body) {
    mp::bus::set_error(reply, mp::schema::Error::Kind::INVALID,
                       "idempotency key '" + key + "' was already used for a " + applied->body);
    return true;
  }
  try {
    mp::bus::body_from_bytes(applied->reply, reply);
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("a stored reply is corrupt: ") + e.what());
  }
  return true;
}

}  // namespace mp::service
