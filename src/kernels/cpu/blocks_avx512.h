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

// Splits the 16 bytes at `qs` into the low nibbles (elements 0-15) and high nibbles (16-31).
VLLM_BLOCK_AVX512_TARGET inline void load_nibbles_avx512(const uint8_t* qs,
                                                                   __m512i* lo, __m512i* hi) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  *lo = _mm512_cvtepu8_epi32(_mm_and_si128(bytes, mask));
  *hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask));
}

VLLM_BLOCK_AVX512_TARGET inline void block_q4_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512i eight = _mm512_set1_epi32(8);
  const __m512 d = _mm512_set1_ps(load_half_f16c(block));
  __m512i lo, hi;
  load_nibbles_avx512(block + 2, &lo, &hi);
  *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, eight)), d);
  *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, eight)), d);
}

VLLM_BLOCK_AVX512_TARGET inline void block_q4_1_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512 d = _mm512_set1_ps(load_half_f16c(block));
  const __m512 m = _mm512_set1_ps(load_half_f16c(block + 2));
  __m512i lo, hi;
  load_nibbles_avx512(block + 4, &lo, &hi);
  *v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), d, m);
  *v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), d, m);
}

// Q5_0: element i is (nibble | bit i of qh << 4) - 16, so lanes whose qh bit is clear get
// nibble - 16 and the others the nibble itself.
VLLM_BLOCK_AVX512_TARGET inline void block_q5_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512i sixteen = _mm512_set1_epi32(16);
  const __m512 d = _mm512_set1_ps(load_half_f16c(block));
  uint32_t qh;
  std::memcpy(&qh, block + 2, sizeof(qh));
  const __mmask16 clear_lo = static_cast<__mmask16>(~qh & 0xFFFF);
  const __mmask16 clear_hi = static_cast<__mmask16>(~qh >> 16);
  __m512i lo, hi;
  load_nibbles_avx512(block + 6, &lo, &hi);
  *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_mask_sub_epi32(lo, clear_lo, lo, sixteen)), d);
  *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_mask_sub_epi32(hi, clear_hi, hi, sixteen)), d);
}

VLLM_BLOCK_AVX512_TARGET inline void block_q8_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512 d = _mm512_set1_ps(load_half_f16c(block));
  const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
  const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 18));
  *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
  *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
}

}  // namespace vllm::cpu
