// Bounds on request fields that more than one part of mp-session checks (each part keeps the
// bounds only it checks).
#pragma once

#include <cstddef>

namespace mp::session {

// A client's address as a transport reports it (credentials, authenticate, station info).
inline constexpr std::size_t kMaxAddressBytes = 256;
// Stations one request may name: a sync, an admission, a message.
inline constexpr std::size_t kMaxStationsPerRequest = 4096;

}  // namespace mp::session
