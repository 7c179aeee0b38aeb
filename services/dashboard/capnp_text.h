// Cap'n Proto text as a std::string: what every reply the dashboard turns into JSON needs.
#pragma once

#include <capnp/blob.h>
#include <capnp/common.h>

#include <string>

namespace mp::dashboard {

inline std::string text(capnp::Text::Reader t) { return std::string(t.begin(), t.size()); }

}  // namespace mp::dashboard
