// LayerNorm, GELU (tanh approximation), SiLU-and-multiply and tanh soft-capping on the
// CPU. Every output element depends only on its own token's inputs, computed in a fixed order.
#include "kernels/cpu/norm_activation.h"

#include <algorithm>
#include <cmath>

#include <immintrin.h>

// GCC 12 reports its own AVX-512 intrinsic headers (the undefined-vector idiom) as reading
// uninitialized values.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/vector_math.h"

namespace vllm::cpu {
namespace {

// gelu_tanh(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))), the formula of
// transformers' NewGELUActivation ("gelu_new") and of torch.nn.functional.gelu with
// approximate="tanh" ("gelu_pytorch_tanh").
inline float gelu_tanh_scalar(float x) {
  constexpr float kSqrt2OverPi = 0.7978845608028654f;
  constexpr float kCoefficient = 0.044715f;
  const float inner = kSqrt2OverPi * (x + kCoefficient * x * x * x);
  return 0.5f * x * (1.0f + std::tanh(inner));
}

// Elements per parallel_for range: small arrays stay on the calling thread.
constexpr int64_t kElementsPerRange = 16384;

// Calls fn(begin, end) on ranges of kElementsPerRange elements covering [0, n).
template <typename Fn>
void parallel_ranges(int64_t n, Fn&& fn) {
  const int64_t num_ranges = (n + kElementsPerRange - 1) / kElementsPerRange;
  parallel_for(num_ranges, [&](int64_t first_range, int64_t end_range) {
    fn(first_range * kElementsPerRange, std::min(n, end_range * kElementsPerRange));
  });
}

template <typename Fn>
void parallel_elements(int64_t n, Fn&& fn) {
  parallel_ranges(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) fn(i);
  });
}

// Returns gelu_tanh_scalar of 16 lanes, computed with the vector tanh.
__attribute__((target("avx512f"), always_inline)) inline __m512 gelu_tanh_avx512(__m512 x) {
  const __m512 cube = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.044715f), x),
                                    _mm512_mul_ps(x, x));
  const __m512 inner = _mm512_mul_ps(_mm512_set1_ps(0.7978845608028654f), _mm512_add_ps(x, cube));
  const __m512 half_x = _mm512_mul_ps(_mm512_set1_ps(0.5f), x);
  return _mm512_mul_ps(half_x, _mm512_add_ps(_mm512_set1_ps(1.0f), tanh_avx512(inner)));
}

bool use_avx512() { return active_isa() >= CpuIsa::kAvx512; }

// Computes elements [begin, end) on AVX-512. The tail goes through a mask, so that every
// element goes through the same vector function.
__attribute__((target("avx512f"))) void gelu_tanh_range_avx512(const float* x, const float* up,
                                                               float* out, int64_t begin,
                                                               int64_t end) {
  for (int64_t i = begin; i < end; i += 16) {
    const __mmask16 mask = tail_mask16(end - i);
    __m512 y = gelu_tanh_avx512(_mm512_maskz_loadu_ps(mask, x + i));
    if (up != nullptr) y = _mm512_mul_ps(y, _mm512_maskz_loadu_ps(mask, up + i));
    _mm512_mask_storeu_ps(out + i, mask, y);
  }
}

__attribute__((target("avx512f"))) void silu_and_mul_range_avx512(const float* gate,
                                                                  const float* up, float* out,
                                                                  int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i += 16) {
    const __mmask16 mask = tail_mask16(end - i);
    _mm512_mask_storeu_ps(out + i, mask,
                          silu_mul_avx512(_mm512_maskz_loadu_ps(mask, gate + i),
                                          _mm512_maskz_loadu_ps(mask, up + i)));
  }
}

}  // namespace

void layer_norm(const float* x, int64_t num_tokens, int64_t hidden_size, const float* weight,
                const float* bias, double eps, float* out) {
  parallel_for(num_tokens, [&](int64_t first_token, int64_t end_token) {
    for (int64_t t = first_token; t < end_token; ++t) {
      const float* row = x + t * hidden_size;
      // Two passes in double, sequential in k, so the order is fixed by the data.
      double sum = 0.0;
      for (int64_t k = 0; k < hidden_size; ++k) sum += row[k];
      const double mean = sum / static_cast<double>(hidden_size);
      double sum_squares = 0.0;
      for (int64_t k = 0; k < hidden_size; ++k) {
        const double centered = row[k] - mean;
        sum_squares += centered * centered;
      }
      const double variance = sum_squares / static_cast<double>(hidden_size);
      const float inv_std = static_cast<float>(1.0 / std::sqrt(variance + eps));
      const float mean_f = static_cast<float>(mean);
      float* dst = out + t * hidden_size;
      for (int64_t k = 0; k < hidden_size; ++k) {
        const float normed = (row[k] - mean_f) * inv_std;
        dst[k] = bias != nullptr ? normed * weight[k] + bias[k] : normed * weight[k];
      }
    }
  });
}

// The AVX-512 paths use the vector exp and tanh of vector_math.h, within a few float ulp
// of the scalar libm paths but not bit-identical to them.
void gelu_tanh(const float* x, int64_t n, float* out) {
  if (!use_avx512()) {
    parallel_elements(n, [&](int64_t i) { out[i] = gelu_tanh_scalar(x[i]); });
    return;
  }
  parallel_ranges(n, [&](int64_t begin, int64_t end) {
    gelu_tanh_range_avx512(x, nullptr, out, begin, end);
  });
}

void gelu_tanh_and_mul(const float* gate, const float* up, int64_t n, float* out) {
  if (!use_avx512()) {
    parallel_elements(n, [&](int64_t i) { out[i] = gelu_tanh_scalar(gate[i]) * up[i]; });
    return;
  }
  parallel_ranges(n, [&](int64_t begin, int64_t end) {
    gelu_tanh_range_avx512(gate, up, out, begin, end);
  });
}

void silu_and_mul(const float* gate, const float* up, int64_t n, float* out) {
  if (!use_avx512()) {
    parallel_elements(n, [&](int64_t i) {
      out[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    });
    return;
  }
  parallel_ranges(n, [&](int64_t begin, int64_t end) {
    silu_and_mul_range_avx512(gate, up, out, begin, end);
  });
}

void tanh_soft_cap(float* x, int64_t n, float cap) {
  parallel_elements(n, [&](int64_t i) { x[i] = cap * std::tanh(x[i] / cap); });
}

}  // namespace vllm::cpu
