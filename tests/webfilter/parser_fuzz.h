// One input through every decoder of untrusted bytes in mp-webfilter; shared by the seeded
// mutation test and the libFuzzer target.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mp::webfilter::test {

void fuzz_one(const std::uint8_t* data, std::size_t size);

}  // namespace mp::webfilter::test
