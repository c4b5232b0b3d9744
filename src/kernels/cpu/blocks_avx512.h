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

// Splits the 16 bytes at `qs` into the low nibbles (elements 0-15) and high nibbles (16-31).
__attribute__((target("avx512f"))) inline void load_nibbles_avx512(const uint8_t* qs,
                                                                   __m512i* lo, __m512i* hi) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i mask = _mm_set1_epi8(0x0F);
  *lo = _mm512_cvtepu8_epi32(_mm_and_si128(bytes, mask));
  *hi = _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(bytes, 4), mask));
}

__attribute__((target("avx512f"))) inline void block_q4_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512i eight = _mm512_set1_epi32(8);
  const __m512 d = _mm512_set1_ps(load_half(block));
  __m512i lo, hi;
  load_nibbles_avx512(block + 2, &lo, &hi);
  *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(lo, eight)), d);
  *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(hi, eight)), d);
}

__attribute__((target("avx512f"))) inline void block_q4_1_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512 d = _mm512_set1_ps(load_half(block));
  const __m512 m = _mm512_set1_ps(load_half(block + 2));
  __m512i lo, hi;
  load_nibbles_avx512(block + 4, &lo, &hi);
  *v0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(lo), d, m);
  *v1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(hi), d, m);
}

__attribute__((target("avx512f"))) inline void block_q8_0_avx512(const uint8_t* block,
                                                                 __m512* v0, __m512* v1) {
  const __m512 d = _mm512_set1_ps(load_half(block));
  const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
  const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 18));
  *v0 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q0)), d);
  *v1 = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q1)), d);
}

}  // namespace vllm::cpu
