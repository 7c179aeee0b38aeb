// Text from the wire, whole: kj's own conversion to std::string stops at the first NUL, which
// would let "ok\0<anything>" pass validation as "ok". Every part of mp-session reads text
// through these.
#pragma once

#include <kj/string.h>

#include <string>
#include <string_view>

namespace mp::session {

inline std::string_view wire_view(kj::StringPtr text) { return {text.begin(), text.size()}; }
inline std::string wire_text(kj::StringPtr text) { return std::string(wire_view(text)); }

}  // namespace mp::session
