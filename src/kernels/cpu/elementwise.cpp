// Per-token float32 ops: RMS norm. Each output depends only on its own token's inputs,
// computed in a fixed order that is the same on every instruction set.
#include <algorithm>
#include <cmath>

#include <immintrin.h>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/vector_math.h"

namespace vllm::cpu {

namespace {

// Lanes of the sum of squares: element k adds to lane k % kSumLanes, in order of k. The lanes
// are then added by a fixed tree, on every path. Squares of floats are exact in double, so
// the vector path's fused multiply-adds equal the scalar path's multiply and add.
constexpr int kSumLanes = 16;

double sum_lanes(double* lanes) {
  for (int width = kSumLanes / 2; width >= 1; width /= 2) {
    for (int i = 0; i < width; ++i) lanes[i] += lanes[i + width];
  }
  return lanes[0];
}

double sum_squares_scalar(const float* row, int64_t n) {
  double lanes[kSumLanes] = {};
  for (int64_t k = 0; k < n; ++k) {
    lanes[k % kSumLanes] += static_cast<double>(row[k]) * static_cast<double>(row[k]);
  }
  return sum_lanes(lanes);
}

__attribute__((target("avx512f"))) double sum_squares_avx512(const float* row, int64_t n) {
  __m512d low = _mm512_setzero_pd();   // lanes 0..7
  __m512d high = _mm512_setzero_pd();  // lanes 8..15
  for (int64_t k = 0; k < n; k += kSumLanes) {
    // Masked elements load as zero and add nothing.
    const __m512 x = _mm512_maskz_loadu_ps(tail_mask16(n - k), row + k);
    const __m512d x_low = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    const __m512d x_high =
        _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
    low = _mm512_fmadd_pd(x_low, x_low, low);
    high = _mm512_fmadd_pd(x_high, x_high, high);
  }
  alignas(64) double lanes[kSumLanes];
  _mm512_store_pd(lanes, low);
  _mm512_store_pd(lanes + 8, high);
  return sum_lanes(lanes);
}

}  // namespace

void rms_norm(const float* x, int64_t num_tokens, int64_t hidden_size, const float* weight,
              double eps, float* out) {
  const CpuIsa isa = active_isa();
  const bool avx512 = isa >= CpuIsa::kAvx512;
  parallel_for(num_tokens, [&](int64_t first_token, int64_t end_token) {
    for (int64_t t = first_token; t < end_token; ++t) {
      const float* row = x + t * hidden_size;
      const double sum_squares =
          avx512 ? sum_squares_avx512(row, hidden_size) : sum_squares_scalar(row, hidden_size);
      const float variance = static_cast<float>(sum_squares / static_cast<double>(hidden_size));
      const float inv_rms = 1.0f / std::sqrt(variance + static_cast<float>(eps));
      float* dst = out + t * hidden_size;
      for (int64_t k = 0; k < hidden_size; ++k) dst[k] = weight[k] * (row[k] * inv_rms);
    }
  });
}

}  // namespace vllm::cpu
