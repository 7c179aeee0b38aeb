// Seeded mutations of valid inputs through every decoder: nothing crashes, hangs or reads out of
// bounds (run under ASan for the last). The same entry point builds as a libFuzzer target with
// -DMP_FUZZ=ON.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "parser_fuzz.h"
#include "webfilter_support.h"

namespace mp::webfilter::test {
namespace {

std::vector<std::string> seeds() {
  return {
      "GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      "CONNECT [::1]:443 HTTP/1.1\r\nHost: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      "4;x=y\r\nabcd\r\n0\r\nT: v\r\n\r\n",
      "bücher.de",
      "*.Example.COM.",
      "0x7f.0.0.1",
      client_hello("www.example.com"),
      client_hello("split.test", 9, 40),
  };
}

TEST(ParserFuzz, SeededMutationsNeverCrash) {
  std::mt19937_64 random(20240611);
  auto all = seeds();
  for (int round = 0; round < 30000; ++round) {
    std::string input = all[random() % all.size()];
    int edits = 1 + static_cast<int>(random() % 8);
    for (int e = 0; e < edits; ++e) {
      std::size_t at = input.empty() ? 0 : random() % input.size();
      switch (random() % 5) {
        case 0:
          if (!input.empty()) input[at] = static_cast<char>(random());
          break;
        case 1:
          input.insert(at, 1, static_cast<char>(random()));
          break;
        case 2:
          if (!input.empty()) input.erase(at, 1 + random() % 8);
          break;
        case 3:
          input.insert(at, input.substr(0, random() % (input.size() + 1)));
          break;
        case 4:
          input.resize(at);
          break;
      }
    }
    fuzz_one(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  }
  SUCCEED();
}

}  // namespace
}  // namespace mp::webfilter::test
