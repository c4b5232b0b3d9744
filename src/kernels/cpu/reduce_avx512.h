// Reductions of 16 vectors at once, for kernels that need one total per vector. An op's
// operator() combines two vectors lane by lane; all_lanes(v), where defined, puts the op
// over v's 16 lanes in every lane.
#pragma once

#include <immintrin.h>

namespace vllm::cpu {

#define VLLM_REDUCE_AVX512_TARGET __attribute__((target("avx512f")))

struct AddFloatOp {
  VLLM_REDUCE_AVX512_TARGET __m512 operator()(__m512 a, __m512 b) const {
    return _mm512_add_ps(a, b);
  }
};
struct MaxFloatOp {
  VLLM_REDUCE_AVX512_TARGET __m512 operator()(__m512 a, __m512 b) const {
    return _mm512_max_ps(a, b);
  }
  VLLM_REDUCE_AVX512_TARGET __m512 all_lanes(__m512 v) const {
    return _mm512_set1_ps(_mm512_reduce_max_ps(v));
  }
};
// Adds int32 lanes carried in float vectors.
struct AddInt32Op {
  VLLM_REDUCE_AVX512_TARGET __m512 operator()(__m512 a, __m512 b) const {
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
  }
  VLLM_REDUCE_AVX512_TARGET __m512 all_lanes(__m512 v) const {
    return _mm512_castsi512_ps(_mm512_set1_epi32(_mm512_reduce_add_epi32(_mm512_castps_si512(v))));
  }
};

// Lane i of the result: op over the 16 lanes of a[i], by a fixed tree: pairs within 128-bit
// lanes, then pairs of pairs, then across the four 128-bit lanes. 15 ops and 30 shuffles,
// against 16 separate reductions of 8 dependent steps each. The tree fixes the order of
// float additions, so a result does not depend on where its vector sits among the 16.
template <typename Op>
VLLM_REDUCE_AVX512_TARGET __attribute__((always_inline)) inline __m512 transpose_reduce16(
    const __m512* a, Op op) {
  __m512 x[8];
  for (int i = 0; i < 8; ++i) {
    x[i] = op(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
              _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  }
  // x[i], per 128-bit lane: (a[2i] 0+2, a[2i+1] 0+2, a[2i] 1+3, a[2i+1] 1+3).
  __m512 y[4];
  for (int i = 0; i < 4; ++i) {
    y[i] = op(_mm512_shuffle_ps(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
              _mm512_shuffle_ps(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // y[i], per 128-bit lane L: the lane-L totals of a[4i], a[4i+1], a[4i+2], a[4i+3].
  const __m512 u01 = op(_mm512_shuffle_f32x4(y[0], y[1], _MM_SHUFFLE(1, 0, 1, 0)),
                        _mm512_shuffle_f32x4(y[0], y[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 u23 = op(_mm512_shuffle_f32x4(y[2], y[3], _MM_SHUFFLE(1, 0, 1, 0)),
                        _mm512_shuffle_f32x4(y[2], y[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return op(_mm512_shuffle_f32x4(u01, u23, _MM_SHUFFLE(2, 0, 2, 0)),
            _mm512_shuffle_f32x4(u01, u23, _MM_SHUFFLE(3, 1, 3, 1)));
}

}  // namespace vllm::cpu
