// Dequantization of the K-quant formats Q4_K, Q5_K, Q6_K and Q8_K to float32, on the
// scalar, AVX2 and AVX-512 paths. kquant_blocks.h describes the layouts and why the paths
// agree bit for bit.
#include <cmath>
#include <cstring>

#include <immintrin.h>

// GCC 12 reports its own AVX-512 intrinsic headers (the undefined-vector idiom) as reading
// uninitialized values.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "core/errors.h"
#include "kernels/cpu/kquant_blocks.h"

namespace vllm::cpu {
namespace {

// --- scalar paths ---------------------------------------------------------------------

void dequantize_q4_k_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ4KBytes, dst += kQkK) {
    const KQuantFactors f = q4_k_factors(src);
    const uint8_t* qs = src + 16;
    for (int s = 0; s < 8; ++s) {
      const uint8_t* q = qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l) {
        const int code = (q[l] >> shift) & 0x0F;
        dst[32 * s + l] = std::fma(static_cast<float>(code), f.scale[s], f.minus_min[s]);
      }
    }
  }
}

void dequantize_q5_k_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ5KBytes, dst += kQkK) {
    const KQuantFactors f = q4_k_factors(src);
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    for (int s = 0; s < 8; ++s) {
      const uint8_t* q = qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int l = 0; l < 32; ++l) {
        const int code = ((q[l] >> shift) & 0x0F) | (((qh[l] >> s) & 1) << 4);
        dst[32 * s + l] = std::fma(static_cast<float>(code), f.scale[s], f.minus_min[s]);
      }
    }
  }
}

void dequantize_q6_k_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ6KBytes, dst += kQkK) {
    const int8_t* scales = reinterpret_cast<const int8_t*>(src + 192);
    const float d = load_half(src + 208);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* qh = src + 128 + 32 * h;
      for (int g = 0; g < 4; ++g) {
        const uint8_t* low = src + 64 * h + 32 * (g % 2);
        const int shift = 4 * (g / 2);
        for (int l = 0; l < 32; ++l) {
          const int code = ((low[l] >> shift) & 0x0F) | (((qh[l] >> (2 * g)) & 3) << 4);
          const float scale = d * static_cast<float>(scales[8 * h + 2 * g + l / 16]);
          dst[128 * h + 32 * g + l] = static_cast<float>(code - 32) * scale;
        }
      }
    }
  }
}

void dequantize_q8_k_scalar(const uint8_t* src, float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ8KBytes, dst += kQkK) {
    float d;
    std::memcpy(&d, src, sizeof(d));
    const int8_t* qs = reinterpret_cast<const int8_t*>(src + 4);
    for (int i = 0; i < kQkK; ++i) dst[i] = static_cast<float>(qs[i]) * d;
  }
}

// --- AVX2 paths: 8 elements per vector ------------------------------------------------

// Converts 8 bytes, shifted right by `shift` and masked to 4 bits, to int32.
__attribute__((target("avx2,fma,f16c"))) inline __m256i nibbles8_avx2(const uint8_t* bytes,
                                                                      int shift) {
  const __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes));
  return _mm256_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(v, shift), _mm_set1_epi8(0x0F)));
}

// Bits [shift, shift + width) of 8 bytes, as int32, moved to bit 4 and up.
__attribute__((target("avx2,fma,f16c"))) inline __m256i high_bits8_avx2(const uint8_t* bytes,
                                                                        int shift, int mask) {
  const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(bytes)));
  const __m256i bits = _mm256_and_si256(_mm256_srli_epi32(v, shift), _mm256_set1_epi32(mask));
  return _mm256_slli_epi32(bits, 4);
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q4_k_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ4KBytes, dst += kQkK) {
    const KQuantFactors f = q4_k_factors(src);
    const uint8_t* qs = src + 16;
    for (int s = 0; s < 8; ++s) {
      const __m256 scale = _mm256_set1_ps(f.scale[s]);
      const __m256 minus_min = _mm256_set1_ps(f.minus_min[s]);
      const uint8_t* q = qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int i = 0; i < 4; ++i) {
        const __m256 code = _mm256_cvtepi32_ps(nibbles8_avx2(q + 8 * i, shift));
        _mm256_storeu_ps(dst + 32 * s + 8 * i, _mm256_fmadd_ps(code, scale, minus_min));
      }
    }
  }
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q5_k_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ5KBytes, dst += kQkK) {
    const KQuantFactors f = q4_k_factors(src);
    const uint8_t* qh = src + 16;
    const uint8_t* qs = src + 48;
    for (int s = 0; s < 8; ++s) {
      const __m256 scale = _mm256_set1_ps(f.scale[s]);
      const __m256 minus_min = _mm256_set1_ps(f.minus_min[s]);
      const uint8_t* q = qs + 32 * (s / 2);
      const int shift = 4 * (s % 2);
      for (int i = 0; i < 4; ++i) {
        const __m256i code =
            _mm256_or_si256(nibbles8_avx2(q + 8 * i, shift), high_bits8_avx2(qh + 8 * i, s, 1));
        _mm256_storeu_ps(dst + 32 * s + 8 * i,
                         _mm256_fmadd_ps(_mm256_cvtepi32_ps(code), scale, minus_min));
      }
    }
  }
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q6_k_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  const __m256i thirty_two = _mm256_set1_epi32(32);
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ6KBytes, dst += kQkK) {
    const int8_t* scales = reinterpret_cast<const int8_t*>(src + 192);
    const float d = load_half(src + 208);
    for (int h = 0; h < 2; ++h) {
      const uint8_t* qh = src + 128 + 32 * h;
      for (int g = 0; g < 4; ++g) {
        const uint8_t* low = src + 64 * h + 32 * (g % 2);
        const int shift = 4 * (g / 2);
        for (int i = 0; i < 4; ++i) {
          const __m256i code = _mm256_or_si256(nibbles8_avx2(low + 8 * i, shift),
                                               high_bits8_avx2(qh + 8 * i, 2 * g, 3));
          const __m256 value = _mm256_cvtepi32_ps(_mm256_sub_epi32(code, thirty_two));
          const __m256 scale =
              _mm256_set1_ps(d * static_cast<float>(scales[8 * h + 2 * g + i / 2]));
          _mm256_storeu_ps(dst + 128 * h + 32 * g + 8 * i, _mm256_mul_ps(value, scale));
        }
      }
    }
  }
}

__attribute__((target("avx2,fma,f16c"))) void dequantize_q8_k_avx2(const uint8_t* src,
                                                                   float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kQ8KBytes, dst += kQkK) {
    float d;
    std::memcpy(&d, src, sizeof(d));
    const __m256 scale = _mm256_set1_ps(d);
    for (int i = 0; i < kQkK; i += 8) {
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(src + 4 + i));
      _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), scale));
    }
  }
}

// --- AVX-512 paths: the super-block decoders the fused linear kernels use -------------

template <void (*kSuperblock)(const uint8_t*, __m512*), int64_t kBlockBytes>
VLLM_BLOCK_AVX512_TARGET void dequantize_superblocks_avx512(const uint8_t* src,
                                                                      float* dst, int64_t n) {
  for (int64_t b = 0; b < n / kQkK; ++b, src += kBlockBytes, dst += kQkK) {
    __m512 v[16];
    kSuperblock(src, v);
    for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + 16 * i, v[i]);
  }
}

}  // namespace

void dequantize_kquant_row(GGMLType type, CpuIsa isa, const uint8_t* src, float* dst,
                           int64_t num_elements) {
  const bool avx512 = isa >= CpuIsa::kAvx512;
  const bool avx2 = isa == CpuIsa::kAvx2;
  switch (type) {
    case GGMLType::Q4_K:
      if (avx512) return dequantize_superblocks_avx512<superblock_q4_k_avx512, kQ4KBytes>(src, dst, num_elements);
      if (avx2) return dequantize_q4_k_avx2(src, dst, num_elements);
      return dequantize_q4_k_scalar(src, dst, num_elements);
    case GGMLType::Q5_K:
      if (avx512) return dequantize_superblocks_avx512<superblock_q5_k_avx512, kQ5KBytes>(src, dst, num_elements);
      if (avx2) return dequantize_q5_k_avx2(src, dst, num_elements);
      return dequantize_q5_k_scalar(src, dst, num_elements);
    case GGMLType::Q6_K:
      if (avx512) return dequantize_superblocks_avx512<superblock_q6_k_avx512, kQ6KBytes>(src, dst, num_elements);
      if (avx2) return dequantize_q6_k_avx2(src, dst, num_elements);
      return dequantize_q6_k_scalar(src, dst, num_elements);
    case GGMLType::Q8_K:
      if (avx512) return dequantize_superblocks_avx512<superblock_q8_k_avx512, kQ8KBytes>(src, dst, num_elements);
      if (avx2) return dequantize_q8_k_avx2(src, dst, num_elements);
      return dequantize_q8_k_scalar(src, dst, num_elements);
    default:
      break;
  }
  VLLM_CHECK(false, "dequantize_kquant_row: {} is not a K-quant type", ggml_type_name(type));
}

}  // namespace vllm::cpu
