// What both ends of a channel share: the header they fill, how a received frame becomes an
// Incoming (or a counted rejection), and the catch around the handler.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>
#include <zmq.hpp>

#include "mp/bus/channel.h"

namespace mp::bus::detail {

// One frame: `body` under a header naming options.source, `incarnation` and the next sequence.
zmq::message_t channel_frame(const ChannelOptions& options, std::uint64_t incarnation,
                             std::uint64_t& sequence, const Build& body);

// Decodes one received message, which must have `expected_frames` frames, the envelope last;
// counts and logs (rate-limited) a rejection.
std::optional<Incoming> decode_channel_message(std::vector<zmq::message_t>& frames,
                                               std::size_t expected_frames,
                                               const ChannelOptions& options,
                                               ChannelCounters& counters);

// Calls `handler`: an exception from it (a typed read of a structure that passed the frame
// checks but is not what it claims) counts as a rejected message; the loop goes on.
void run_channel_handler(const ChannelOptions& options, ChannelCounters& counters,
                         const std::function<void()>& handler);

}  // namespace mp::bus::detail
