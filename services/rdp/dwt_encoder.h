// The forward wavelet transform of a RemoteFX tile (MS-RDPRFX 3.1.8.1.4): three levels of the
// 5/3 lifting DWT, sub-bands laid out HL1 LH1 HH1 | HL2 LH2 HH2 | HL3 LH3 HH3 LL3.
//
// Why our own: FreeRDP's SSE2 version gathers the even and odd samples of each row one by one
// (its own comment says that is over half its time); here they are split with shifts and
// packs. The arithmetic is FreeRDP's 16-bit one, so the coefficients are the same (tests
// compare them).
#pragma once

#include <cstdint>

namespace mp::rdp {

// `tile`: 64×64 coefficients, transformed in place; `scratch`: 64×64 more. Both 16-byte
// aligned.
void dwt_2d_encode(std::int16_t* tile, std::int16_t* scratch);

}  // namespace mp::rdp
