// ggml's K-quant formats: super-blocks of 256 elements with per-sub-block scales. Layouts
// (little endian, fp16 = IEEE half):
//
//   Q4_K (144 bytes): d, dmin (fp16); scales[12]; qs[128]
//     8 sub-blocks of 32 elements, each with a 6-bit scale sc[s] and 6-bit min m[s] packed
//     into scales[12] (see unpack_q4_k_scales). Sub-block s takes the low (s even) or high
//     (s odd) nibbles of qs[32 * (s / 2) .. + 32]:  x = d * sc[s] * q - dmin * m[s].
//   Q5_K (176 bytes): d, dmin (fp16); scales[12]; qh[32]; qs[128]
//     as Q4_K, with bit 4 of element l (0-31) of sub-block s taken from bit s of qh[l].
//   Q6_K (210 bytes): ql[128]; qh[64]; int8 scales[16]; d (fp16)
//     two halves h of 128 elements, each four groups g of 32. Element l of group g takes
//     its low 4 bits from ql[64h + 32 (g % 2) + l] (low nibble for g < 2, else high) and
//     bits 4-5 from bits 2g, 2g + 1 of qh[32h + l]; its scale is scales[8h + 2g + l / 16]:
//     x = d * scale * (q - 32).
//   Q8_K (292 bytes): d (fp32); int8 qs[256]; int16 bsums[16]   x = d * qs[i]
//
// Every path computes each element the same way, so they agree bit for bit: the
// sub-block factors d * sc and dmin * m are exact float products (11-bit by 6- or 8-bit
// integers), the code converts exactly to float, and one multiply or one fused
// multiply-add, fma(q, d * sc, -(dmin * m)), rounds the result once.
#pragma once

#include <cstdint>
#include <cstring>

#include <immintrin.h>

#include "core/ggml_type.h"
#include "kernels/cpu/blocks_avx512.h"
#include "kernels/cpu/cpu_kernels.h"

namespace vllm::cpu {

constexpr int64_t kQkK = 256;  // elements per K-quant super-block

constexpr int64_t kQ4KBytes = 144;
constexpr int64_t kQ5KBytes = 176;
constexpr int64_t kQ6KBytes = 210;
constexpr int64_t kQ8KBytes = 292;

// Dequantizes `num_elements` (a multiple of 256) elements of a K-quant type (Q4_K, Q5_K,
// Q6_K or Q8_K) on the given path. Defined in dequantize_kquants.cpp.
void dequantize_kquant_row(GGMLType type, CpuIsa isa, const uint8_t* src, float* dst,
                           int64_t num_elements);

// Unpacks the eight 6-bit scales and mins of a Q4_K or Q5_K super-block. Bytes 0-3 hold
// the low 6 bits of scales 0-3, bytes 4-7 those of mins 0-3, and their top 2 bits are the
// high bits of scales and mins 4-7. Bytes 8-11 hold the low 4 bits of scale (low nibble)
// and min (high nibble) 4-7.
inline void unpack_q4_k_scales(const uint8_t* packed, uint8_t* scales, uint8_t* mins) {
  for (int s = 0; s < 4; ++s) {
    scales[s] = packed[s] & 0x3F;
    mins[s] = packed[s + 4] & 0x3F;
    scales[s + 4] = static_cast<uint8_t>((packed[s + 8] & 0x0F) | ((packed[s] >> 6) << 4));
    mins[s + 4] = static_cast<uint8_t>((packed[s + 8] >> 4) | ((packed[s + 4] >> 6) << 4));
  }
}

// The per-sub-block factors of a Q4_K or Q5_K super-block: x = fma(q, scale, minus_min).
struct KQuantFactors {
  float scale[8];      // d * sc[s]
  float minus_min[8];  // -(dmin * m[s])
};

// `d` and `dmin` are the block's first two fields converted to float.
inline KQuantFactors q4_k_factors(const uint8_t* block, float d, float dmin) {
  uint8_t scales[8], mins[8];
  unpack_q4_k_scales(block + 4, scales, mins);
  KQuantFactors f;
  for (int s = 0; s < 8; ++s) {
    f.scale[s] = d * static_cast<float>(scales[s]);
    f.minus_min[s] = -(dmin * static_cast<float>(mins[s]));
  }
  return f;
}

inline KQuantFactors q4_k_factors(const uint8_t* block) {
  return q4_k_factors(block, load_half(block), load_half(block + 2));
}

// --- AVX-512: one super-block into 16 vectors of 16 elements, in element order --------

// Converts 16 unsigned bytes, shifted right by `shift` and masked to 4 bits, to int32.
VLLM_BLOCK_AVX512_TARGET inline __m512i nibbles16_avx512(const uint8_t* bytes,
                                                                   int shift) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes));
  const __m128i mask = _mm_set1_epi8(0x0F);
  return _mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(v, shift), mask));
}

// Q4_K through a table of each sub-block's 16 values, as block_q4_1_avx512 does: the 32
// bytes of a pair of sub-blocks are widened once, the low nibbles index sub-block 2k and the
// high nibbles sub-block 2k + 1.
VLLM_BLOCK_AVX512_TARGET inline void superblock_q4_k_avx512(const uint8_t* block,
                                                                      __m512* v) {
  const KQuantFactors f = q4_k_factors(block, load_half_f16c(block), load_half_f16c(block + 2));
  const uint8_t* qs = block + 16;
  for (int pair = 0; pair < 4; ++pair) {
    const __m512i bytes_lo = load_qs_bytes_avx512(qs + 32 * pair);
    const __m512i bytes_hi = load_qs_bytes_avx512(qs + 32 * pair + 16);
    const int s = 2 * pair;
    const __m512 table_even = _mm512_fmadd_ps(
        nibble_values_avx512(), _mm512_set1_ps(f.scale[s]), _mm512_set1_ps(f.minus_min[s]));
    const __m512 table_odd = _mm512_fmadd_ps(nibble_values_avx512(), _mm512_set1_ps(f.scale[s + 1]),
                                             _mm512_set1_ps(f.minus_min[s + 1]));
    v[2 * s] = _mm512_permutexvar_ps(bytes_lo, table_even);
    v[2 * s + 1] = _mm512_permutexvar_ps(bytes_hi, table_even);
    v[2 * s + 2] = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes_lo, 4), table_odd);
    v[2 * s + 3] = _mm512_permutexvar_ps(_mm512_srli_epi32(bytes_hi, 4), table_odd);
  }
}

VLLM_BLOCK_AVX512_TARGET inline void superblock_q5_k_avx512(const uint8_t* block,
                                                                      __m512* v) {
  const KQuantFactors f = q4_k_factors(block, load_half_f16c(block), load_half_f16c(block + 2));
  const uint8_t* qh = block + 16;
  const uint8_t* qs = block + 48;
  const __m512i high_lo = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qh)));
  const __m512i high_hi =
      _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + 16)));
  const __m512i sixteen = _mm512_set1_epi32(16);
  for (int s = 0; s < 8; ++s) {
    const __m512 scale = _mm512_set1_ps(f.scale[s]);
    const __m512 minus_min = _mm512_set1_ps(f.minus_min[s]);
    const uint8_t* q = qs + 32 * (s / 2);
    const int shift = 4 * (s % 2);
    const __m512i bit = _mm512_set1_epi32(1 << s);
    const __mmask16 set_lo = _mm512_test_epi32_mask(high_lo, bit);
    const __mmask16 set_hi = _mm512_test_epi32_mask(high_hi, bit);
    const __m512i lo = nibbles16_avx512(q, shift);
    const __m512i hi = nibbles16_avx512(q + 16, shift);
    v[2 * s] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_mask_add_epi32(lo, set_lo, lo, sixteen)),
                               scale, minus_min);
    v[2 * s + 1] = _mm512_fmadd_ps(
        _mm512_cvtepi32_ps(_mm512_mask_add_epi32(hi, set_hi, hi, sixteen)), scale, minus_min);
  }
}

// Q6_K: each group of 16 elements is assembled as bytes (low nibble, two high bits, minus
// 32) in a 128-bit register. Only the sign extension, conversion and scaling use 512 bits. The 16 scales d * scales[i] are formed in one vector multiply,
// which rounds each as the scalar product does.
VLLM_BLOCK_AVX512_TARGET inline void superblock_q6_k_avx512(const uint8_t* block,
                                                                      __m512* v) {
  const uint8_t* ql = block;
  const uint8_t* qh = block + 128;
  const __m512 d = _mm512_set1_ps(load_half_f16c(block + 208));
  alignas(64) float scales[16];  // [16] d * scales[i], one per 16 elements
  _mm512_store_ps(scales, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(
                                            reinterpret_cast<const __m128i*>(block + 192)))),
                                        d));
  const __m128i low_mask = _mm_set1_epi8(0x0F);
  const __m128i high_mask = _mm_set1_epi8(0x30);
  const __m128i thirty_two = _mm_set1_epi8(32);
  for (int h = 0; h < 2; ++h) {
    for (int half = 0; half < 2; ++half) {
      const __m128i high = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + 32 * h + 16 * half));
      // Bits 2g, 2g + 1 of each qh byte moved to bits 4-5, for groups g = 0..3. The 16-bit
      // shifts carry bits across bytes, which the mask removes.
      const __m128i high_bits[4] = {
          _mm_and_si128(_mm_slli_epi16(high, 4), high_mask),
          _mm_and_si128(_mm_slli_epi16(high, 2), high_mask),
          _mm_and_si128(high, high_mask),
          _mm_and_si128(_mm_srli_epi16(high, 2), high_mask),
      };
      for (int g = 0; g < 4; ++g) {
        const __m128i low_bytes = _mm_loadu_si128(
            reinterpret_cast<const __m128i*>(ql + 64 * h + 32 * (g % 2) + 16 * half));
        const __m128i low = g < 2 ? _mm_and_si128(low_bytes, low_mask)
                                  : _mm_and_si128(_mm_srli_epi16(low_bytes, 4), low_mask);
        const __m128i q = _mm_sub_epi8(_mm_or_si128(low, high_bits[g]), thirty_two);
        const int index = 8 * h + 2 * g + half;
        v[index] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)),
                                 _mm512_set1_ps(scales[index]));
      }
    }
  }
}

VLLM_BLOCK_AVX512_TARGET inline void superblock_q8_k_avx512(const uint8_t* block,
                                                                      __m512* v) {
  float d;
  std::memcpy(&d, block, sizeof(d));
  const __m512 scale = _mm512_set1_ps(d);
  for (int i = 0; i < 16; ++i) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 4 + 16 * i));
    v[i] = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), scale);
  }
}

}  // namespace vllm::cpu
