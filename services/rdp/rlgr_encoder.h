// RLGR entropy coding of RemoteFX coefficients (MS-RDPRFX 3.1.8.1.7), RLGR1 and RLGR3.
//
// Why our own: FreeRDP's encoder writes its bit stream a few bits at a time and allocates on
// every call; it was 64 % of the time of a tile (25 µs of 39 µs on this machine). This one
// keeps pending bits in a 64-bit word and stores 32 at a time. It makes the same bits as
// FreeRDP's (tests compare them), so any RemoteFX decoder reads it.
#pragma once

#include <cstddef>
#include <cstdint>

namespace mp::rdp {

enum class Rlgr { rlgr1, rlgr3 };

// Encodes `count` coefficients into `out` and returns the bytes written (the last one padded
// with zero bits). Never writes more than `capacity`; output that does not fit is cut off.
std::size_t rlgr_encode(Rlgr mode, const std::int16_t* coefficients, std::size_t count,
                        std::uint8_t* out, std::size_t capacity);

}  // namespace mp::rdp
