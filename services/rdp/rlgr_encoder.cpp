#include "rlgr_encoder.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>

namespace mp::rdp {

namespace {

// The adaptation constants of MS-RDPRFX 3.1.8.1.7.
constexpr int kMaxParam = 80;   // KPMAX: largest kp / krp
constexpr int kParamShift = 3;  // LSGR: k = kp >> 3
constexpr int kUpRun = 4;       // UP_GR: kp after a full run of zeros
constexpr int kDownRun = 6;     // DN_GR: kp after the value that ends a run
constexpr int kUpQuiet = 3;     // UQ_GR: kp after a zero in Golomb-Rice mode
constexpr int kDownBusy = 3;    // DQ_GR: kp after a non-zero in Golomb-Rice mode

std::uint32_t two_magnitude_sign(int v) {
  return v >= 0 ? 2u * static_cast<std::uint32_t>(v) : 2u * static_cast<std::uint32_t>(-v) - 1;
}

void adapt(int& param, int delta, int& k) {
  param = std::clamp(param + delta, 0, kMaxParam);
  k = param >> kParamShift;
}

// The index of the first non-zero coefficient at or after `i` (or `count`).
std::size_t skip_zeros(const std::int16_t* input, std::size_t i, std::size_t count) {
  for (; i + 4 <= count; i += 4) {  // four at a time: high-frequency bands are mostly zeros
    std::uint64_t four;
    std::memcpy(&four, input + i, sizeof four);
    if (four != 0) break;
  }
  while (i < count && input[i] == 0) ++i;
  return i;
}

}  // namespace

// One function with its state in locals: through members or references the compiler must
// assume every byte stored to `out` may change them, and reloads them after each store.
std::size_t rlgr_encode(Rlgr mode, const std::int16_t* input, std::size_t count, std::uint8_t* out,
                        std::size_t capacity) {
  std::size_t position = 0;
  std::uint64_t pending = 0;  // the low `pending_count` bits are not stored yet
  int pending_count = 0;
  auto store8 = [&](std::uint8_t byte) {
    if (position < capacity) out[position++] = byte;
  };
  auto store32 = [&](std::uint32_t word) {
    if (position + 4 <= capacity) {
      std::uint32_t big_endian = __builtin_bswap32(word);
      std::memcpy(out + position, &big_endian, 4);
      position += 4;
      return;
    }
    for (int shift = 24; shift >= 0; shift -= 8) store8(static_cast<std::uint8_t>(word >> shift));
  };
  // The low `n` (0…32) bits of `bits`, most significant first, as RemoteFX reads them.
  auto put = [&](std::uint32_t bits, int n) {
    pending = (pending << n) | bits;
    pending_count += n;
    if (pending_count >= 32) {
      pending_count -= 32;
      store32(static_cast<std::uint32_t>(pending >> pending_count));
    }
  };
  auto put_ones = [&](std::uint32_t n) {
    for (; n >= 32; n -= 32) put(0xffffffffu, 32);
    put((1u << n) - 1, static_cast<int>(n));
  };
  int k = 1;
  int kp = 1 << kParamShift;
  int krp = 1 << kParamShift;
  auto golomb_rice = [&](std::uint32_t value) {
    int kr = krp >> kParamShift;
    std::uint32_t quotient = value >> kr;
    std::uint32_t remainder = value & ((1u << kr) - 1);
    // Unary quotient, a 0, then kr bits: one store when it fits (it nearly always does).
    if (quotient + 1 + static_cast<std::uint32_t>(kr) <= 32) {
      put((((1u << quotient) - 1) << (kr + 1)) | remainder, static_cast<int>(quotient) + 1 + kr);
    } else {
      put_ones(quotient);
      put(0, 1);
      put(remainder, kr);
    }
    int unused;
    if (quotient == 0) {
      adapt(krp, -2, unused);
    } else if (quotient > 1) {
      adapt(krp, static_cast<int>(std::min<std::uint32_t>(quotient, kMaxParam)), unused);
    }
  };

  std::size_t i = 0;
  auto next = [&]() -> int { return i < count ? input[i++] : 0; };
  while (i < count) {
    if (k != 0) {
      // Run-length mode: a run of zeros, then the value that ends it (a zero if the input ends).
      std::size_t end = skip_zeros(input, i, count);
      if (end == count) end = count - 1;
      auto zeros = static_cast<std::uint32_t>(end - i);
      int value = input[end];
      i = end + 1;
      for (std::uint32_t full = 1u << k; zeros >= full; full = 1u << k) {
        put(0, 1);
        zeros -= full;
        adapt(kp, kUpRun, k);
      }
      // A 1 ending the run, the rest of the run in k bits, the sign: one store.
      int magnitude = std::abs(value);
      put((1u << (k + 1)) | (zeros << 1) | (value < 0 ? 1u : 0u), k + 2);
      golomb_rice(magnitude != 0 ? magnitude - 1 : 0);
      adapt(kp, -kDownRun, k);
    } else if (mode == Rlgr::rlgr1) {
      std::uint32_t v = two_magnitude_sign(next());
      golomb_rice(v);
      adapt(kp, v != 0 ? -kDownBusy : kUpQuiet, k);
    } else {
      // RLGR3: two values, coded as their sum and then the first in as many bits as the sum.
      std::uint32_t first = two_magnitude_sign(next());
      std::uint32_t second = two_magnitude_sign(next());
      std::uint32_t sum = first + second;
      golomb_rice(sum);
      put(first, std::bit_width(sum));
      if (first != 0 && second != 0) {
        adapt(kp, -2 * kDownBusy, k);
      } else if (first == 0 && second == 0) {
        adapt(kp, 2 * kUpQuiet, k);
      }
    }
  }
  if (pending_count % 8 != 0) put(0, 8 - pending_count % 8);
  while (pending_count > 0) {
    pending_count -= 8;
    store8(static_cast<std::uint8_t>(pending >> pending_count));
  }
  return position;
}

}  // namespace mp::rdp
