#include "session_link.h"

namespace mp::agent {

SessionLink::SessionLink(mp::bus::Context& context, mp::bus::Reactor& reactor,
                         const std::string& endpoint, MessageHandler on_message,
                         mp::bus::Limits limits)
    : channel_(context, reactor, endpoint, std::move(on_message),
               mp::bus::ChannelOptions{.name = "session channel",
                                       .source = "agent",
                                       .limits = limits,
                                       .rebuild_after = kRebuildAfter}) {}

}  // namespace mp::agent
