// Parses --listen ADDR:PORT ("127.0.0.1:3389", "0.0.0.0:3389", "[::1]:3389").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace mp::rdp {

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

std::optional<ListenAddress> parse_listen_address(const std::string& text);

}  // namespace mp::rdp
