// Writes the envelope fuzz corpus: real envelopes of many bodies (valid-*.bin, which the decoder
// must accept) and frames it must refuse (bad-*.bin). envelope_fuzz_replay holds the decoder to
// those prefixes, so regenerate with this program when the schemas grow:
//   envelope_corpus_generator tests/fuzz/corpus
#include <capnp/any.h>
#include <capnp/message.h>
#include <capnp/schema.h>
#include <capnp/serialize.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "envelope.capnp.h"

namespace {

using Bytes = std::vector<std::uint8_t>;
using mp::schema::Envelope;

void fill_header(Envelope::Builder envelope, std::uint64_t sequence) {
  auto header = envelope.initHeader();
  header.setSource("fuzz-seed");
  header.setIncarnation(0x1234567890abcdefULL);
  header.setSequence(sequence);
  header.setCorrelationId(sequence * 7);
  header.setSentAtNs(1700000000000000000LL);
  header.setDeadlineNs(1700000002000000000LL);
  if (sequence % 2) header.setIdempotencyKey("key-" + std::to_string(sequence));
  header.setStateVersion(sequence / 3);
}

Bytes to_bytes(capnp::MessageBuilder& message) {
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return Bytes(bytes.begin(), bytes.end());
}

Bytes build(const std::function<void(Envelope::Builder)>& body, std::uint64_t sequence,
            unsigned first_segment_words = 1024,
            capnp::AllocationStrategy strategy = capnp::SUGGESTED_ALLOCATION_STRATEGY) {
  capnp::MallocMessageBuilder message(first_segment_words, strategy);
  auto envelope = message.initRoot<Envelope>();
  fill_header(envelope, sequence);
  body(envelope);
  return to_bytes(message);
}

void fill_station(mp::schema::StationInfo::Builder station, int i) {
  station.setKey("rdp:client-" + std::to_string(i));
  station.setTransport("rdp");
  station.setClientName("client-" + std::to_string(i));
  station.setAddress("192.168.1." + std::to_string(10 + i));
  auto caps = station.initCapabilities();
  caps.setVideo(true);
  caps.setKeyboard(true);
  caps.setMouse(i % 2 == 0);
  caps.setWidth(1920);
  caps.setHeight(1080);
}

void write(const std::filesystem::path& dir, const std::string& name, const Bytes& bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

void put32(Bytes& bytes, std::size_t at, std::uint32_t value) {
  std::memcpy(bytes.data() + at, &value, sizeof(value));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  std::uint64_t sequence = 1;

  // --- Envelopes the decoder must accept -------------------------------------------------------
  Bytes probe = build(
      [](Envelope::Builder e) {
        auto data = e.initProbe(64);
        for (unsigned i = 0; i < 64; ++i) data[i] = static_cast<std::uint8_t>(i * 37);
      },
      sequence++);
  write(dir, "valid-probe64.bin", probe);
  write(dir, "valid-none.bin", build([](Envelope::Builder e) { e.setNone(); }, sequence++));
  write(dir, "valid-register.bin",
        build(
            [](Envelope::Builder e) {
              auto r = e.initRegister();
              r.setService("session");
              r.setIncarnation(42);
              r.setPid(4242);
            },
            sequence++));
  write(dir, "valid-heartbeat.bin",
        build(
            [](Envelope::Builder e) {
              auto h = e.initHeartbeat();
              h.setBrokerIncarnation(99);
              h.setReregister(true);
            },
            sequence++));
  write(dir, "valid-presence.bin",
        build(
            [](Envelope::Builder e) {
              auto p = e.initPresence();
              p.setService("rdp");
              p.setState(mp::schema::Presence::State::DOWN);
              p.setReason("missed 3 heartbeats");
            },
            sequence++));
  write(dir, "valid-error.bin",
        build(
            [](Envelope::Builder e) {
              auto err = e.initError();
              err.setKind(mp::schema::Error::Kind::UNAVAILABLE);
              err.setMessage("no worker serves 'policy'");
            },
            sequence++));
  write(dir, "valid-unimplemented.bin",
        build(
            [&](Envelope::Builder e) {
              auto inner = e.initUnimplemented();
              fill_header(inner, 77);
              inner.initStationAttach().initStation().setKey("usb:1-2.3");
            },
            sequence++));
  write(dir, "valid-bus-status.bin",
        build(
            [](Envelope::Builder e) {
              auto status = e.initBusStatus();
              status.setIncarnation(7);
              auto services = status.initServices(5);
              for (unsigned i = 0; i < services.size(); ++i) {
                services[i].setName("service-" + std::to_string(i));
                services[i].setWorkers(i + 1);
                services[i].setPid(1000 + i);
              }
            },
            sequence++));
  write(dir, "valid-transport-sync.bin",
        build(
            [](Envelope::Builder e) {
              auto sync = e.initTransportSync();
              sync.setTransport("rdp");
              auto stations = sync.initStations(4);
              for (unsigned i = 0; i < stations.size(); ++i)
                fill_station(stations[i], static_cast<int>(i));
            },
            sequence++));
  write(dir, "valid-credentials.bin",
        build(
            [](Envelope::Builder e) {
              auto c = e.initCredentials();
              c.setStationKey("rdp:client-1");
              c.setUser("student1");
              c.setPassword("correct horse battery staple");
              c.setClientAddress("192.168.1.11");
            },
            sequence++));
  write(dir, "valid-session-snapshot.bin",
        build(
            [](Envelope::Builder e) {
              auto s = e.initSessionSnapshot();
              s.initInfo().setTopic("session");
              s.getInfo().setVersion(12);
              auto stations = s.initStations(2);
              stations[0].setKey("rdp:a");
              stations[0].setState(mp::schema::StationState::ATTACHED);
              stations[1].setKey("video:card0-HDMI-A-1");
              auto users = s.initUsers(1);
              users[0].setName("teacher");
              users[0].setRole(mp::schema::Role::DASHBOARD);
              auto sessions = s.initSessions(1);
              sessions[0].setId(3);
              sessions[0].setState(mp::schema::SessionState::ACTIVE);
            },
            sequence++));
  write(dir, "valid-set-block.bin",
        build(
            [](Envelope::Builder e) {
              auto b = e.initSetBlock();
              b.initScope().setStation("rdp:client-2");
              b.setBlocked(true);
              b.setMessage("Eyes to the front, please");
            },
            sequence++));
  write(dir, "valid-effective-policy.bin",
        build(
            [](Envelope::Builder e) {
              auto p = e.initEffectivePolicy();
              p.setStationKey("usb:1-2.3");
              p.setWebMode(mp::schema::WebMode::ALLOW_ONLY);
              auto domains = p.initDomains(3);
              domains.set(0, "example.org");
              domains.set(1, "*.wikipedia.org");
              domains.set(2, "xn--bcher-kva.example");
              p.setUsbStorageLocked(true);
            },
            sequence++));
  write(dir, "valid-service-control.bin",
        build(
            [](Envelope::Builder e) {
              auto c = e.initServiceControl();
              c.setAction(mp::schema::ServiceControl::Action::RESTART);
            },
            sequence++));
  // Many small segments: every pointer between them is a far pointer (with landing pads).
  write(dir, "valid-multisegment.bin",
        build(
            [](Envelope::Builder e) {
              auto sync = e.initTransportSync();
              sync.setTransport("usbhub");
              auto stations = sync.initStations(3);
              for (unsigned i = 0; i < stations.size(); ++i)
                fill_station(stations[i], static_cast<int>(i));
            },
            sequence++, 1, capnp::AllocationStrategy::FIXED_SIZE));
  // A body number from a newer schema: must decode (and be answered `unimplemented`).
  {
    capnp::MallocMessageBuilder message;
    auto envelope = message.initRoot<Envelope>();
    fill_header(envelope, sequence++);
    envelope.initProbe(8);
    auto offset = capnp::Schema::from<Envelope>().getProto().getStruct().getDiscriminantOffset();
    auto data = capnp::AnyStruct::Builder(Envelope::Builder(envelope)).getDataSection();
    std::uint16_t future = 999;
    std::memcpy(data.begin() + offset * 2, &future, sizeof(future));
    write(dir, "valid-future-body.bin", to_bytes(message));
  }
  // Smallest messages: a root struct with no fields at all (an "older" Envelope), and one with
  // only a data word. Short frames like these live inside zmq_msg_t itself (VSM, <= 33 bytes).
  write(dir, "valid-empty-root-16.bin",
        Bytes{0, 0, 0, 0, 1, 0, 0, 0, 0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0});
  write(dir, "valid-data-only-root-24.bin",
        Bytes{0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0});

  // --- Frames the decoder must refuse ----------------------------------------------------------
  write(dir, "bad-empty.bin", Bytes{});
  write(dir, "bad-odd-size.bin", Bytes(probe.begin(), probe.begin() + 37));
  write(dir, "bad-truncated-half.bin",
        Bytes(probe.begin(), probe.begin() + probe.size() / 2 / 8 * 8));
  {
    Bytes longer = probe;
    longer.resize(longer.size() + 8, 0);
    write(dir, "bad-trailing-word.bin", longer);
  }
  {
    Bytes b = probe;
    put32(b, 0, 0xffffffffu);  // 2^32 segments
    write(dir, "bad-segment-count.bin", b);
  }
  {
    Bytes b = probe;
    put32(b, 4, 0x7fffffffu);  // first segment far longer than the frame
    write(dir, "bad-segment-size.bin", b);
  }
  {
    Bytes b = probe;
    put32(b, 8, 0x00100000u << 2);  // root pointer far beyond the segment
    write(dir, "bad-root-out-of-bounds.bin", b);
  }
  {
    // A far pointer whose landing pad is itself: must not loop.
    Bytes b{0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
    write(dir, "bad-far-pointer-self.bin", b);
  }
  {
    // Root: a list of 2^29-1 zero-sized structs in one word (an amplification attempt).
    // Tag word: struct list of 1 element with 0 data + 0 pointer words, count in the tag.
    Bytes b{0, 0, 0, 0, 3, 0, 0, 0};
    Bytes list_pointer{0x01, 0, 0, 0, 0x07, 0, 0, 0};  // list, offset 0, inline composite, 0 words
    Bytes tag{0xfc, 0xff, 0xff, 0x7f, 0, 0, 0, 0};     // struct tag: 2^29-1 elements, size 0/0
    Bytes root{0x00, 0, 0, 0, 0, 0, 1, 0};             // root struct: 0 data, 1 pointer
    b.insert(b.end(), root.begin(), root.end());
    b.insert(b.end(), list_pointer.begin(), list_pointer.end());
    b.insert(b.end(), tag.begin(), tag.end());
    write(dir, "bad-zero-size-list-amplification.bin", b);
  }
  {
    // unimplemented -> unimplemented -> ... 40 deep: beyond the nesting limit (32).
    capnp::MallocMessageBuilder message;
    auto envelope = message.initRoot<Envelope>();
    for (int depth = 0; depth < 40; ++depth) envelope = envelope.initUnimplemented();
    envelope.setNone();
    write(dir, "bad-nesting-40.bin", to_bytes(message));
  }
  std::mt19937_64 random(20240601);
  for (int i = 0; i < 3; ++i) {
    Bytes garbage(8 * (3 + i * 5));
    for (auto& byte : garbage) byte = static_cast<std::uint8_t>(random());
    garbage[0] = static_cast<std::uint8_t>(garbage[0] | 0x80);  // many segments: never valid
    garbage[3] = 0x7f;
    write(dir, "bad-garbage-" + std::to_string(i) + ".bin", garbage);
  }
  std::printf("wrote the envelope corpus to %s\n", dir.c_str());
  return 0;
}
