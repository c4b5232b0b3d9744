// Dequantization of ggml element types to float32. Block layouts (little endian, fp16 = IEEE
// half), each block covering 32 consecutive elements of a row:
//   Q4_0 (18 bytes): d; qs[16]          x[j] = (lo(qs[j]) - 8) * d, x[j + 16] = (hi(qs[j]) - 8) * d
//   Q4_1 (20 bytes): d, m; qs[16]       x[j] = lo(qs[j]) * d + m, x[j + 16] = hi(qs[j]) * d + m
//   Q5_0 (22 bytes): d; qh[4]; qs[16]   as Q4_0 with bit 4 of x[i] taken from bit i of qh, - 16
//   Q5_1 (24 bytes): d, m; qh[4]; qs[16] as Q4_1 with bit 4 of x[i] taken from bit i of qh
//   Q8_0 (34 bytes): d; int8 qs[32]     x[j] = qs[j] * d
// lo/hi are the low and high nibbles. The K-quant formats (256-element super-blocks) are in
// dequantize_kquants.cpp. The SIMD and scalar paths produce identical values:
// each element is one exact integer-to-float conversion, then one multiply or one fused
// multiply-add.
#include <cmath>
#include <cstring>

#include <immintrin.h>

// GCC 12 reports its own AVX-512 intrinsic headers (the undefined-vector idiom) as reading
// uninitialized values.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "core/errors.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/blocks_avx512.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/kquant_blocks.h"

namespace vllm::cpu {
namespace {

constexpr int64_t kQk = 32;  // elements per block of every legacy block format

uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// --- scalar paths ---------------------------------------------------------------------

void dequantize_f16_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = load_half(src + 2 * i);
}

void dequantize_bf16(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    uint16_t h;
    std::memcpy(&h, src + 2 * i, sizeof(h));
    uint32_t bits = static_cast<uint32_t>(h) << 16;
    std::memcpy(&dst[i], &bits, sizeof(bits));
  }
}

void dequantize_q4_0_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQk; ++b, src += 18, dst += kQk) {
    const float d = load_half(src);
    const uint8_t* qs = src + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
      dst[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_q4_1_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQk; ++b, src += 20, dst += kQk) {
    const float d = load_half(src);
    const float m = load_half(src + 2);
    const uint8_t* qs = src + 4;
    for (int j = 0; j < 16; ++j) {
      dst[j] = std::fma(static_cast<float>(qs[j] & 0x0F), d, m);
      dst[j + 16] = std::fma(static_cast<float>(qs[j] >> 4), d, m);
    }
  }
}

void dequantize_q5_0_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQk; ++b, src += 22, dst += kQk) {
    const float d = load_half(src);
    const uint32_t qh = load_u32(src + 2);
    const uint8_t* qs = src + 6;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
      const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      dst[j] = static_cast<float>(lo - 16) * d;
      dst[j + 16] = static_cast<float>(hi - 16) * d;
    }
  }
}

void dequantize_q5_1(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQk; ++b, src += 24, dst += kQk) {
    const float d = load_half(src);
    const float m = load_half(src + 2);
    const uint32_t qh = load_u32(src + 4);
    const uint8_t* qs = src + 8;
    for (int j = 0; j < 16; ++j) {
      const int lo = (qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
      const int hi = (qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      dst[j] = std::fma(static_cast<float>(lo), d, m);
      dst[j + 16] = std::fma(static_cast<float>(hi), d, m);
    }
  }
}

void dequantize_q8_0_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQk; ++b, src += 34, dst += kQk) {
    const float d = load_half(src);
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 2);
    for (int j = 0; j < kQk; ++j) dst[j] = static_cast<float>(qs[j]) * d;
  }
}

// --- AVX-512 paths --------------------------------------------------------------------

__attribute__((target("avx512f"))) void dequantize_f16_avx512(const uint8_t* src, float* dst,
                                                              int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i));
    _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
  }
  dequantize_f16_scalar(src + 2 * i, dst + i, n - i);
}

template <void (*kBlock)(const uint8_t*, __m512*, __m512*), int64_t kBlockBytes>
VLLM_BLOCK_AVX512_TARGET void dequantize_blocks_avx512(const uint8_t* src, float* dst,
                                                                 int64_t n) {
  for (int64_t b = 0; b < n / kQk; ++b, src += kBlockBytes, dst += kQk) {
    __m512 v0, v1;
    kBlock(src, &v0, &v1);
    _mm512_storeu_ps(dst, v0);
    _mm512_storeu_ps(dst + 16, v1);
  }
}

// --- AVX2 paths -----------------------------------------------------------------------

__attribute__((target("avx2,fma,f16c"))) void dequantize_f16_avx2(const uint8_t* src,
                                                                  float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  dequantize_f16_scalar(src + 2 * i, dst + i, n - i);
}

// Converts 8 unsigned bytes to floats.
__attribute__((target("avx2,fma,f16c"))) inline __m256 u8x8_to_float(__m128i bytes) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q4_0_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m256 eight = _mm256_set1_ps(8.0f);
  for (int64_t b = 0; b < n / kQk; ++b, src += 18, dst += kQk) {
    const __m256 d = _mm256_set1_ps(load_half(src));
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2));
    const __m128i lo = _mm_and_si128(bytes, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    // q - 8 is exact in float, so subtracting after the conversion equals the scalar path.
    _mm256_storeu_ps(dst, _mm256_mul_ps(_mm256_sub_ps(u8x8_to_float(lo), eight), d));
    _mm256_storeu_ps(dst + 8,
                     _mm256_mul_ps(_mm256_sub_ps(u8x8_to_float(_mm_srli_si128(lo, 8)), eight), d));
    _mm256_storeu_ps(dst + 16, _mm256_mul_ps(_mm256_sub_ps(u8x8_to_float(hi), eight), d));
    _mm256_storeu_ps(dst + 24,
                     _mm256_mul_ps(_mm256_sub_ps(u8x8_to_float(_mm_srli_si128(hi, 8)), eight), d));
  }
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q4_1_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  for (int64_t b = 0; b < n / kQk; ++b, src += 20, dst += kQk) {
    const __m256 d = _mm256_set1_ps(load_half(src));
    const __m256 m = _mm256_set1_ps(load_half(src + 2));
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 4));
    const __m128i lo = _mm_and_si128(bytes, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    _mm256_storeu_ps(dst, _mm256_fmadd_ps(u8x8_to_float(lo), d, m));
    _mm256_storeu_ps(dst + 8, _mm256_fmadd_ps(u8x8_to_float(_mm_srli_si128(lo, 8)), d, m));
    _mm256_storeu_ps(dst + 16, _mm256_fmadd_ps(u8x8_to_float(hi), d, m));
    _mm256_storeu_ps(dst + 24, _mm256_fmadd_ps(u8x8_to_float(_mm_srli_si128(hi, 8)), d, m));
  }
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q5_0_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m256i lane_shifts = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i one = _mm256_set1_epi32(1);
  const __m256i sixteen = _mm256_set1_epi32(16);
  for (int64_t b = 0; b < n / kQk; ++b, src += 22, dst += kQk) {
    const __m256 d = _mm256_set1_ps(load_half(src));
    const __m256i qh = _mm256_set1_epi32(static_cast<int32_t>(load_u32(src + 2)));
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 6));
    const __m128i lo = _mm_and_si128(bytes, mask);
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), mask);
    const __m128i nibbles[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
    for (int i = 0; i < 4; ++i) {
      // Bit 8i + l of qh is bit 4 of element 8i + l.
      const __m256i shifts = _mm256_add_epi32(lane_shifts, _mm256_set1_epi32(8 * i));
      const __m256i fifth = _mm256_slli_epi32(_mm256_and_si256(_mm256_srlv_epi32(qh, shifts), one), 4);
      const __m256i code = _mm256_or_si256(_mm256_cvtepu8_epi32(nibbles[i]), fifth);
      _mm256_storeu_ps(dst + 8 * i,
                       _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(code, sixteen)), d));
    }
  }
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q8_0_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQk; ++b, src += 34, dst += kQk) {
    const __m256 d = _mm256_set1_ps(load_half(src));
    for (int j = 0; j < kQk; j += 8) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 2 + j));
      _mm256_storeu_ps(dst + j, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
    }
  }
}

VLLM_BLOCK_AVX512_TARGET void dequantize_bf16_avx512(const uint8_t* src, float* dst,
                                                     int64_t n) {
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512 v0, v1;
    block_bf16_avx512(src + 2 * i, &v0, &v1);
    _mm512_storeu_ps(dst + i, v0);
    _mm512_storeu_ps(dst + i + 16, v1);
  }
  dequantize_bf16(src + 2 * i, dst + i, n - i);
}

}  // namespace

void dequantize_row(GGMLType type, const uint8_t* src, float* dst, int64_t num_elements) {
  const CpuIsa isa = active_isa();
  switch (type) {
    case GGMLType::F32:
      std::memcpy(dst, src, static_cast<size_t>(num_elements) * sizeof(float));
      return;
    case GGMLType::F16:
      if (isa >= CpuIsa::kAvx512) return dequantize_f16_avx512(src, dst, num_elements);
      if (isa == CpuIsa::kAvx2) return dequantize_f16_avx2(src, dst, num_elements);
      return dequantize_f16_scalar(src, dst, num_elements);
    case GGMLType::BF16:
      if (isa >= CpuIsa::kAvx512) return dequantize_bf16_avx512(src, dst, num_elements);
      return dequantize_bf16(src, dst, num_elements);
    case GGMLType::Q4_0:
      if (isa >= CpuIsa::kAvx512) return dequantize_blocks_avx512<block_q4_0_avx512, 18>(src, dst, num_elements);
      if (isa == CpuIsa::kAvx2) return dequantize_q4_0_avx2(src, dst, num_elements);
      return dequantize_q4_0_scalar(src, dst, num_elements);
    case GGMLType::Q4_1:
      if (isa >= CpuIsa::kAvx512) return dequantize_blocks_avx512<block_q4_1_avx512, 20>(src, dst, num_elements);
      if (isa == CpuIsa::kAvx2) return dequantize_q4_1_avx2(src, dst, num_elements);
      return dequantize_q4_1_scalar(src, dst, num_elements);
    case GGMLType::Q5_0:
      if (isa >= CpuIsa::kAvx512) return dequantize_blocks_avx512<block_q5_0_avx512, 22>(src, dst, num_elements);
      if (isa == CpuIsa::kAvx2) return dequantize_q5_0_avx2(src, dst, num_elements);
      return dequantize_q5_0_scalar(src, dst, num_elements);
    case GGMLType::Q5_1:
      return dequantize_q5_1(src, dst, num_elements);
    case GGMLType::Q8_0:
      if (isa >= CpuIsa::kAvx512) return dequantize_blocks_avx512<block_q8_0_avx512, 34>(src, dst, num_elements);
      if (isa == CpuIsa::kAvx2) return dequantize_q8_0_avx2(src, dst, num_elements);
      return dequantize_q8_0_scalar(src, dst, num_elements);
    case GGMLType::Q4_K:
    case GGMLType::Q5_K:
    case GGMLType::Q6_K:
    case GGMLType::Q8_K:
      return dequantize_kquant_row(type, isa, src, dst, num_elements);
    default:
      break;
  }
  VLLM_CHECK(false, "dequantize_row: no CPU kernel for type {}", ggml_type_name(type));
}

}  // namespace vllm::cpu
