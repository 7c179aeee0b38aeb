// libFuzzer entry point (built with -DMP_FUZZ=ON and clang).
#include <cstddef>
#include <cstdint>

#include "parser_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mp::webfilter::test::fuzz_one(data, size);
  return 0;
}
