// Idempotent retries of mutating requests: the reply is remembered under the request's
// idempotency key in the same transaction as the change, and a retry gets it back.
#pragma once

#include <optional>
#include <string>

#include "envelope.capnp.h"
#include "mp/service/sqlite.h"

namespace mp::service {

// What to remember for a request whose body is named `body` and which answered `reply`.
AppliedRequest record_reply(std::string body, mp::schema::Envelope::Reader reply);

// Answers a retry: `applied` is what the store holds for `key`. Returns false if nothing was
// applied under the key (go on and apply); else fills `reply` with the remembered reply, or with
// an `invalid` error if the key was used for another kind of request, and returns true.
// Throws std::runtime_error if the remembered reply is corrupt.
bool answer_retry(const std::optional<AppliedRequest>& applied, const std::string& key,
                  const std::string& body, mp::schema::Envelope::Builder reply);

}  // namespace mp::service
