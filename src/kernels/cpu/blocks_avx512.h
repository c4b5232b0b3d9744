// AVX-512 dequantization of one 32-element block into two 16-float vectors (elements 0-15,
// 16-31). Shared by the row dequantizers and the fused single-token linear kernel, so that
// both produce the same values (see dequantize.cpp for the block layouts).
#pragma once

#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "kernels/cpu/half.h"

namespace vllm::cpu {

inline float load_half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof(h));
  return half_to_float(h);
}

// Target of the block decoders and of every kernel that inlines them. Every AVX-512F CPU
// has F16C, whose half conversion is exact like load_half's but cheaper: it took the
// single-token product with the Q8_0 Gemma 3 output matrix (262144 x 640, one thread)
// from about 54 to 38 ms on a shared AVX-512 machine.
#define VLLM_BLOCK_AVX512_TARGET __attribute__((target("avx512f,f16c")))

VLLM_BLOCK_AVX512_TARGET inline float load_half_f16c(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, sizeof(h));
  return _cvtsh_ss(h);
}

// Widens the 16 bytes at `qs` to one int32 lane each: lane j contains byte j, whose low
// nibble is element j and high nibble element j + 16.
VLLM_BLOCK_AVX512_TARGET inline __m512i load_qs_bytes_avx512(const uint8_t* qs) {
  return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
}

// Returns {0, 1, ..., 15}, the nibble values, as floats.
VLLM_BLOCK_AVX512_TARGET inline __m512 nibble_values_avx512() {
  return _mm512_setr_ps(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// The 4-bit formats decode through a table of the block's 16 possible values: one multiply
// or multiply-add builds it, then vpermps looks up 16 elements at once by the low 4 bits of
// each lane. Each table entry is what the per-element formula gives (the same single
// rounding), so the values are unchanged, in fewer instructions than converting every
// element to float.

VLLM_BLOCK_AVX512_TARGET inline void block_q4_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512 d = _mm512_set1_ps(load_half_f16c(block));
  const __m512 table = _mm512_mul_ps(_mm512_sub_ps(nibble_values_avx512(), _mm512_set1_ps(8)), d);
  const __m512i bytes = load_qs_bytes_avx512(block + 2);
  *v0 = _mm512_permutexvar_ps(bytes, table);
  *v1 = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), table);
}

VLLM_BLOCK_AVX512_TARGET inline void block_q4_1_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  // d and m converted together (lanes 0 and 1), then broadcast.
  uint32_t dm_bits;
  std::memcpy(&dm_bits, block, sizeof(dm_bits));
  const __m512 dm =
      _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dm_bits))));
  const __m512 d = _mm512_permutexvar_ps(_mm512_setzero_si512(), dm);
  const __m512 m = _mm512_permutexvar_ps(_mm512_set1_epi32(1), dm);
  const __m512 table = _mm512_fmadd_ps(nibble_values_avx512(), d, m);
  const __m512i bytes = load_qs_bytes_avx512(block + 4);
  *v0 = _mm512_permutexvar_ps(bytes, table);
  *v1 = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes, 4), table);
}

// Q5_0: element i is (nibble | bit i of qh << 4) - 16. The 32 values (k - 16) * d for
// k = 0..31 make two tables. vpermt2ps picks from them by the 5-bit index k, whose bit 4
// is set in the lanes whose qh bit is set.
VLLM_BLOCK_AVX512_TARGET inline void block_q5_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512 d = _mm512_set1_ps(load_half_f16c(block));
  const __m512 low_table =
      _mm512_mul_ps(_mm512_sub_ps(nibble_values_avx512(), _mm512_set1_ps(16)), d);
  const __m512 high_table = _mm512_mul_ps(nibble_values_avx512(), d);
  uint32_t qh;
  std::memcpy(&qh, block + 2, sizeof(qh));
  const __m512i bit4 = _mm512_set1_epi32(0x10);
  const __m512i bytes = load_qs_bytes_avx512(block + 6);
  const __m512i lo = _mm512_and_si512(bytes, _mm512_set1_epi32(0x0F));
  const __m512i hi = _mm512_srli_epi32(bytes, 4);
  const __m512i lo_index =
      _mm512_mask_or_epi32(lo, static_cast<__mmask16>(qh & 0xFFFF), lo, bit4);
  const __m512i hi_index = _mm512_mask_or_epi32(hi, static_cast<__mmask16>(qh >> 16), hi, bit4);
  *v0 = _mm512_permutex2var_ps(low_table, lo_index, high_table);
  *v1 = _mm512_permutex2var_ps(low_table, hi_index, high_table);
}

VLLM_BLOCK_AVX512_TARGET inline void block_q8_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512 d = _mm512_set1_ps(load_half_f16c(block));
  const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
  const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 18));
  *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
  *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
}

// Decodes 32 elements of an F16 or a BF16 row, so that the fused kernel treats these rows as
// blocks of 64 bytes. Both conversions to float are exact.
VLLM_BLOCK_AVX512_TARGET inline void block_f16_avx512(const uint8_t* block, __m512* v0,
                                                       __m512* v1) {
  *v0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
  *v1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32)));
}

// A bf16 value is the high half of the float with the same bits.
VLLM_BLOCK_AVX512_TARGET inline void block_bf16_avx512(const uint8_t* block, __m512* v0,
                                                        __m512* v1) {
  const __m512i lo =
      _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)));
  const __m512i hi =
      _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32)));
  *v0 = _mm512_castsi512_ps(_mm512_slli_epi32(lo, 16));
  *v1 = _mm512_castsi512_ps(_mm512_slli_epi32(hi, 16));
}

}  // namespace vllm::cpu
