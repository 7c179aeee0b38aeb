// Replays the envelope fuzz corpus and seeded mutations of it through the fuzz target, so the
// normal build (gcc, no libFuzzer) runs the target on every ctest. valid-*.bin must decode,
// bad-*.bin must be refused; anything else only must not crash.
//   envelope_fuzz_replay [--mutations N] [--seed S] CORPUS_DIR_OR_FILE...
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "mp/bus/frame.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Input {
  std::string name;
  Bytes bytes;
};

Bytes read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool decodes(const Bytes& bytes) {
  return mp::bus::Incoming::check(bytes.data(), bytes.size(), mp::bus::Limits{}) ==
         mp::bus::DecodeError::none;
}

// Byte-level mutations shaped for Cap'n Proto: whole words matter (segment table, pointers).
class Mutator {
 public:
  explicit Mutator(std::uint64_t seed) : random_(seed) {}

  Bytes mutate(const std::vector<Input>& corpus) {
    Bytes bytes = pick(corpus).bytes;
    int rounds = 1 + static_cast<int>(below(4));
    for (int i = 0; i < rounds; ++i) mutate_once(bytes, corpus);
    return bytes;
  }

 private:
  std::uint64_t below(std::uint64_t n) { return n ? random_() % n : 0; }
  const Input& pick(const std::vector<Input>& corpus) { return corpus[below(corpus.size())]; }

  void mutate_once(Bytes& bytes, const std::vector<Input>& corpus) {
    static const std::uint8_t interesting_bytes[] = {0, 1, 2, 3, 4, 0x7f, 0x80, 0xfc, 0xfe, 0xff};
    static const std::uint32_t interesting_words[] = {
        0, 1, 2, 3, 7, 8, 0xfffffffc, 0xffffffff, 0x7fffffff, 0x80000000, 0x10000, 512, 513};
    switch (below(9)) {
      case 0:  // flip a bit
        if (!bytes.empty()) bytes[below(bytes.size())] ^= static_cast<std::uint8_t>(1u << below(8));
        break;
      case 1:  // an interesting byte
        if (!bytes.empty())
          bytes[below(bytes.size())] = interesting_bytes[below(std::size(interesting_bytes))];
        break;
      case 2:  // an interesting 32-bit value at a 4-byte boundary (segment table, pointer halves)
        if (bytes.size() >= 4) {
          std::uint32_t value = below(3) == 0
                                    ? static_cast<std::uint32_t>(bytes.size() / 8 + below(3)) - 1
                                    : interesting_words[below(std::size(interesting_words))];
          std::memcpy(bytes.data() + below(bytes.size() / 4) * 4, &value, 4);
        }
        break;
      case 3:  // truncate anywhere
        bytes.resize(below(bytes.size() + 1));
        break;
      case 4:  // truncate to whole words
        bytes.resize(below(bytes.size() / 8 + 1) * 8);
        break;
      case 5: {  // insert a random word
        std::size_t at = below(bytes.size() / 8 + 1) * 8;
        Bytes word(8);
        for (auto& b : word) b = static_cast<std::uint8_t>(random_());
        bytes.insert(bytes.begin() + static_cast<std::ptrdiff_t>(at), word.begin(), word.end());
        break;
      }
      case 6:  // erase a word
        if (bytes.size() >= 8) {
          std::size_t at = below(bytes.size() / 8) * 8;
          bytes.erase(bytes.begin() + static_cast<std::ptrdiff_t>(at),
                      bytes.begin() + static_cast<std::ptrdiff_t>(at + 8));
        }
        break;
      case 7:  // copy one word over another (pointer aliasing)
        if (bytes.size() >= 16) {
          std::size_t from = below(bytes.size() / 8) * 8, to = below(bytes.size() / 8) * 8;
          std::memmove(bytes.data() + to, bytes.data() + from, 8);
        }
        break;
      default: {  // splice: our head, another input's tail
        const Bytes& other = pick(corpus).bytes;
        std::size_t keep = below(bytes.size() + 1);
        std::size_t from = below(other.size() + 1);
        bytes.resize(keep);
        bytes.insert(bytes.end(), other.begin() + static_cast<std::ptrdiff_t>(from), other.end());
        break;
      }
    }
  }

  std::mt19937_64 random_;
};

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t mutations = 20000;
  std::uint64_t seed = 0x5eed;
  std::vector<std::filesystem::path> paths;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 0);
    } else {
      paths.emplace_back(arg);
    }
  }
  std::vector<Input> corpus;
  for (const auto& path : paths) {
    if (std::filesystem::is_directory(path)) {
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) corpus.push_back({entry.path().filename(), read_bytes(entry)});
      }
    } else {
      corpus.push_back({path.filename(), read_bytes(path)});
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "usage: %s [--mutations N] [--seed S] CORPUS...\n", argv[0]);
    return 2;
  }
  std::sort(corpus.begin(), corpus.end(),
            [](const Input& a, const Input& b) { return a.name < b.name; });

  int failures = 0;
  for (const auto& input : corpus) {
    LLVMFuzzerTestOneInput(input.bytes.data(), input.bytes.size());
    bool ok = decodes(input.bytes);
    if (input.name.rfind("valid-", 0) == 0 && !ok) {
      std::fprintf(stderr, "FAIL %s: a valid envelope was refused\n", input.name.c_str());
      ++failures;
    } else if (input.name.rfind("bad-", 0) == 0 && ok) {
      std::fprintf(stderr, "FAIL %s: a bad frame was accepted\n", input.name.c_str());
      ++failures;
    }
  }

  Mutator mutator(seed);
  std::uint64_t accepted = 0;
  for (std::uint64_t i = 0; i < mutations; ++i) {
    Bytes bytes = mutator.mutate(corpus);
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    accepted += decodes(bytes);
  }
  std::printf(
      "replayed %zu corpus inputs and %llu mutations (seed %#llx): %llu mutations "
      "decoded, %llu refused; %d corpus failures\n",
      corpus.size(), static_cast<unsigned long long>(mutations),
      static_cast<unsigned long long>(seed), static_cast<unsigned long long>(accepted),
      static_cast<unsigned long long>(mutations - accepted), failures);
  return failures == 0 ? 0 : 1;
}
