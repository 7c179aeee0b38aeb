// Unguessable tokens (login session ids, CSRF tokens, idempotency keys) and comparing secrets
// without leaking, through timing, how much of a guess was right.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mp::dashboard {

// `bytes` random bytes from the kernel (getrandom), as lowercase hex. Throws if the kernel
// cannot give them: a predictable token is worse than no login.
std::string random_hex(std::size_t bytes);

// Takes the same time for every `a` of a given length, wherever the first difference is.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace mp::dashboard
