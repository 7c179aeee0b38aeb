#include "channel_frames.h"

#include <spdlog/spdlog.h>

#include "socket_options.h"

namespace mp::bus::detail {

namespace {

// Garbage from a peer is logged, but a flood of it must not flood the journal.
bool worth_logging(std::uint64_t count) { return count <= 10 || (count & (count - 1)) == 0; }

}  // namespace

zmq::message_t channel_frame(const ChannelOptions& options, std::uint64_t incarnation,
                             std::uint64_t& sequence, const Build& body) {
  Outgoing message;
  auto envelope = message.envelope();
  auto header = envelope.initHeader();
  header.setSource(options.source);
  header.setIncarnation(incarnation);
  header.setSequence(++sequence);
  header.setSentAtNs(now_ns());
  body(envelope);
  return message.to_frame();
}

std::optional<Incoming> decode_channel_message(std::vector<zmq::message_t>& frames,
                                               std::size_t expected_frames,
                                               const ChannelOptions& options,
                                               ChannelCounters& counters) {
  if (frames.size() != expected_frames) {
    if (worth_logging(++counters.rejected)) {
      spdlog::warn("{}: dropped a message of {} frames ({} rejected so far)", options.name,
                   frames.size(), counters.rejected);
    }
    return std::nullopt;
  }
  DecodeError error = DecodeError::none;
  auto message = Incoming::decode(std::move(frames.back()), options.limits, &error);
  if (!message) {
    if (worth_logging(++counters.rejected)) {
      spdlog::warn("{}: dropped an undecodable frame: {} ({} rejected so far)", options.name,
                   mp::bus::to_string(error), counters.rejected);
    }
    return std::nullopt;
  }
  ++counters.received;
  return message;
}

void run_channel_handler(const ChannelOptions& options, ChannelCounters& counters,
                         const std::function<void()>& handler) {
  try {
    handler();
  } catch (const std::exception& e) {
    ++counters.rejected;
    spdlog::warn("{}: bad message: {}", options.name, e.what());
  } catch (const kj::Exception& e) {
    ++counters.rejected;
    spdlog::warn("{}: unreadable message: {}", options.name, e.getDescription().cStr());
  }
}

}  // namespace mp::bus::detail
