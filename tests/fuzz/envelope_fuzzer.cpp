// Fuzz target for the one decoder every byte from the wire goes through: Incoming::decode.
// Built two ways: with libFuzzer (+ASan/UBSan) by bench/fuzz-envelope, and always as
// envelope_fuzz_replay, which feeds the committed corpus and seeded mutations through it.
//
// The contract checked: decode never crashes; an envelope it accepts is memory-safe to read in
// full (every field, as a handler or the tap would) and reads the same as its bytes do through a
// plain capnp reader; decoding at an unaligned address gives the same verdict; check() agrees
// with decode(); the bytes an Incoming hands on decode again. decode validates structure, not
// types: a typed read of an accepted envelope may throw kj::Exception (the dispatch loop answers
// `invalid`), so such throws are allowed unless MP_FUZZ_STRICT_READS=1.
#include <capnp/dynamic.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mp/bus/frame.h"
#include "mp/bus/tap.h"

namespace {

[[noreturn]] void contract_broken(const char* what, const char* detail = "") {
  std::fprintf(stderr, "envelope fuzzer: %s %s\n", what, detail);
  std::abort();
}

// List elements the envelope declares, summed over every list: a tiny frame can declare
// hundreds of thousands of zero-sized structs, which every reader then renders.
std::uint64_t g_declared_elements = 0;
// Values the walk may still visit for this input (nested lists multiply), to keep the pace.
std::int64_t g_walk_budget = 0;

// Reads every field reachable from `value`, the way a handler or the tap would.
std::uint64_t read_everything(capnp::DynamicValue::Reader value) {
  std::uint64_t sink = 0;
  if (--g_walk_budget < 0) return sink;
  switch (value.getType()) {
    case capnp::DynamicValue::STRUCT: {
      auto s = value.as<capnp::DynamicStruct>();
      for (auto field : s.getSchema().getNonUnionFields()) sink += read_everything(s.get(field));
      KJ_IF_MAYBE (field, s.which()) {
        sink += read_everything(s.get(*field));
      }
      break;
    }
    case capnp::DynamicValue::LIST: {
      // A few words can declare half a million zero-sized structs (capnp allows it, within the
      // traversal limit); reading the first and last few hundred keeps the fuzzer fast.
      auto list = value.as<capnp::DynamicList>();
      g_declared_elements += list.size();
      constexpr unsigned kEnds = 256;
      for (unsigned i = 0; i < list.size(); ++i) {
        if (i == kEnds && list.size() > 2 * kEnds) i = list.size() - kEnds;
        sink += read_everything(list[i]);
      }
      break;
    }
    case capnp::DynamicValue::TEXT: {
      auto text = value.as<capnp::Text>();
      sink += text.size() + (text.size() ? static_cast<unsigned char>(text[0]) : 0);
      break;
    }
    case capnp::DynamicValue::DATA: {
      auto data = value.as<capnp::Data>();
      for (auto byte : data) sink += byte;
      break;
    }
    case capnp::DynamicValue::ENUM:
      sink += value.as<capnp::DynamicEnum>().getRaw();
      break;
    case capnp::DynamicValue::BOOL:
      sink += value.as<bool>();
      break;
    case capnp::DynamicValue::INT:
      sink += static_cast<std::uint64_t>(value.as<std::int64_t>());
      break;
    case capnp::DynamicValue::UINT:
      sink += value.as<std::uint64_t>();
      break;
    case capnp::DynamicValue::FLOAT:
      sink += value.as<double>() > 0;
      break;
    default:
      break;
  }
  return sink;
}

volatile std::uint64_t g_sink;

// MP_FUZZ_STRICT_READS=1: any kj::Exception while reading an accepted envelope is a finding
// (to hunt for what structural validation lets through).
bool strict_reads() {
  static const bool strict = [] {
    const char* mode = std::getenv("MP_FUZZ_STRICT_READS");
    return mode != nullptr && std::strcmp(mode, "1") == 0;
  }();
  return strict;
}

// What an envelope reads as: its body number and header sequence, or nothing if reading throws.
struct Reading {
  bool threw = false;
  unsigned body = 0;
  std::uint64_t sequence = 0;
  bool operator==(const Reading&) const = default;
};

template <typename GetRoot>
Reading read_as(GetRoot get_root) {
  Reading reading;
  try {
    mp::schema::Envelope::Reader envelope = get_root();
    reading.body = static_cast<unsigned>(envelope.which());
    reading.sequence = envelope.getHeader().getSequence();
  } catch (const kj::Exception&) {
    reading = Reading{.threw = true};
  }
  return reading;
}

// The same bytes through a plain capnp reader over an aligned copy: the reference.
Reading reference_reading(const std::uint8_t* data, std::size_t size,
                          const mp::bus::Limits& limits) {
  auto words = kj::heapArray<capnp::word>(size / sizeof(capnp::word));
  std::memcpy(words.begin(), data, words.size() * sizeof(capnp::word));
  capnp::ReaderOptions options;
  options.traversalLimitInWords = limits.traversal_limit_words;
  options.nestingLimit = limits.nesting_limit;
  try {
    capnp::FlatArrayMessageReader reader(words, options);
    return read_as([&] { return reader.getRoot<mp::schema::Envelope>(); });
  } catch (const kj::Exception&) {
    return Reading{.threw = true};
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const mp::bus::Limits limits{};
  mp::bus::DecodeError error = mp::bus::DecodeError::none;
  auto incoming = mp::bus::Incoming::decode(data, size, limits, &error);

  // The same bytes one byte off an 8-byte boundary must get the same verdict.
  std::vector<std::uint8_t> shifted(size + 1);
  if (size) std::memcpy(shifted.data() + 1, data, size);
  mp::bus::DecodeError shifted_error = mp::bus::DecodeError::none;
  auto shifted_incoming =
      mp::bus::Incoming::decode(shifted.data() + 1, size, limits, &shifted_error);
  if (shifted_incoming.has_value() != incoming.has_value() || shifted_error != error) {
    contract_broken("aligned and unaligned copies decode differently");
  }
  if (mp::bus::Incoming::check(data, size, limits) != error) {
    contract_broken("check() and decode() disagree");
  }
  if (!incoming) {
    if (error == mp::bus::DecodeError::none) contract_broken("rejected without a reason");
    return 0;
  }

  // Accepted: it must read as its bytes do.
  if (read_as([&] { return incoming->envelope(); }) != reference_reading(data, size, limits)) {
    contract_broken("an accepted envelope reads differently from its own bytes; size",
                    std::to_string(size).c_str());
  }

  // Everything must be readable without a memory error (ASan) and without exceptions other
  // than Cap'n Proto's typed-read failures.
  try {
    g_declared_elements = 0;
    g_walk_budget = 50000;
    g_sink = g_sink + read_everything(capnp::toDynamic(incoming->envelope()));
    auto header = incoming->header();
    g_sink = g_sink + header.getSequence() + header.getSource().size() +
             header.getIdempotencyKey().size() + incoming->size_bytes() +
             static_cast<std::uint64_t>(incoming->which());
    g_sink = g_sink + mp::bus::body_name(incoming->envelope()).size();
    if (incoming->is_error()) {
      g_sink = g_sink + static_cast<std::uint64_t>(incoming->error_kind()) +
               incoming->error_text().size();
    }
    // The tap's renderings (they catch the codec's exceptions themselves). Skipped for
    // amplifying frames, where they take up to ~0.5 s (a known finding, tests/fuzz/README.md).
    if (g_declared_elements <= 512) {
      g_sink = g_sink + mp::bus::envelope_to_json(incoming->envelope()).size();
      g_sink = g_sink + mp::bus::envelope_to_text(incoming->envelope()).size();
    }
    auto copy = incoming->clone();
    if (copy.which() != incoming->which() || copy.size_bytes() != incoming->size_bytes()) {
      contract_broken("a clone differs");
    }
  } catch (const kj::Exception& e) {
    if (strict_reads()) {
      contract_broken("reading an accepted envelope threw:", e.getDescription().cStr());
    }
  }

  // What the broker forwards must decode again.
  if (!mp::bus::Incoming::decode(incoming->to_frame(), limits)) {
    contract_broken("a forwarded frame no longer decodes");
  }
  return 0;
}
