#include "dwt_encoder.h"

#include <emmintrin.h>  // SSE2: part of every x86-64

namespace mp::rdp {

namespace {

// One lifting step on eight lanes, with FreeRDP's 16-bit wrap-around arithmetic:
//   h = (odd - ((even + next_even) >> 1)) >> 1
//   l = even + ((previous_h + h) >> 1)
inline __m128i high_pass(__m128i even, __m128i odd, __m128i next_even) {
  __m128i mean = _mm_srai_epi16(_mm_add_epi16(even, next_even), 1);
  return _mm_srai_epi16(_mm_sub_epi16(odd, mean), 1);
}
inline __m128i low_pass(__m128i even, __m128i previous_h, __m128i h) {
  return _mm_add_epi16(even, _mm_srai_epi16(_mm_add_epi16(previous_h, h), 1));
}

inline __m128i load(const std::int16_t* p) {
  return _mm_load_si128(reinterpret_cast<const __m128i*>(p));
}
inline void store(std::int16_t* p, __m128i v) { _mm_store_si128(reinterpret_cast<__m128i*>(p), v); }

// Columns: rows 2n, 2n+1 (and 2n+2, mirrored at the bottom) of `src` (width 2·half) give row
// n of `low` and of `high`.
void vertical(const std::int16_t* src, std::int16_t* low, std::int16_t* high, int half) {
  const int width = 2 * half;
  for (int x = 0; x < width; x += 8) {
    __m128i previous_h = _mm_setzero_si128();
    for (int n = 0; n < half; ++n) {
      const std::int16_t* row = src + 2 * n * width + x;
      __m128i even = load(row);
      __m128i odd = load(row + width);
      __m128i next_even = n < half - 1 ? load(row + 2 * width) : even;
      __m128i h = high_pass(even, odd, next_even);
      store(high + n * width + x, h);
      store(low + n * width + x, low_pass(even, n == 0 ? h : previous_h, h));
      previous_h = h;
    }
  }
}

// Rows: each row of `src` (width 2·half) gives a row of `low` and of `high` (width half).
void horizontal(const std::int16_t* src, std::int16_t* low, std::int16_t* high, int half) {
  for (int y = 0; y < half; ++y) {
    const std::int16_t* row = src + y * 2 * half;
    __m128i previous_h = _mm_setzero_si128();
    for (int n = 0; n < half; n += 8) {
      const std::int16_t* s = row + 2 * n;
      __m128i a = load(s), b = load(s + 8);
      // Even samples: sign-extend the low halves of the 32-bit lanes, pack back exactly.
      __m128i even = _mm_packs_epi32(_mm_srai_epi32(_mm_slli_epi32(a, 16), 16),
                                     _mm_srai_epi32(_mm_slli_epi32(b, 16), 16));
      __m128i odd = _mm_packs_epi32(_mm_srai_epi32(a, 16), _mm_srai_epi32(b, 16));
      bool last = n + 8 == half;
      __m128i next_even = _mm_insert_epi16(_mm_srli_si128(even, 2), last ? s[14] : s[16], 7);
      __m128i h = high_pass(even, odd, next_even);
      // h[n-1] for each lane; the first of the row repeats h[0].
      __m128i before = _mm_slli_si128(h, 2);
      before = n == 0 ? _mm_insert_epi16(before, _mm_extract_epi16(h, 0), 0)
                      : _mm_or_si128(before, _mm_srli_si128(previous_h, 14));
      store(high + y * half + n, h);
      store(low + y * half + n, low_pass(even, before, h));
      previous_h = h;
    }
  }
}

// One level on a (2·half)² block of `buffer`: L and H rows into `scratch`, then the four
// sub-bands back into `buffer` as HL, LH, HH, LL.
void level(std::int16_t* buffer, std::int16_t* scratch, int half) {
  const int band = half * half;
  std::int16_t* l = scratch;
  std::int16_t* h = scratch + 2 * band;
  vertical(buffer, l, h, half);
  horizontal(l, buffer + 3 * band, buffer, half);         // LL, HL
  horizontal(h, buffer + band, buffer + 2 * band, half);  // LH, HH
}

}  // namespace

void dwt_2d_encode(std::int16_t* tile, std::int16_t* scratch) {
  level(tile, scratch, 32);
  level(tile + 3072, scratch, 16);
  level(tile + 3840, scratch, 8);
}

}  // namespace mp::rdp
