// Elementwise exp, silu and tanh on AVX-512 vectors, for the kernels whose scalar libm calls
// dominated once the matrix products got faster (attention softmax, SwiGLU, GELU).
//
// exp_avx512 reduces x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two constants, so r is
// exact to float precision), evaluates exp(r) by the degree-6 minimax polynomial of Cephes'
// expf, and scales by 2^n with vscalefps, which handles overflow to inf and underflow to 0.
// On 2^20 random inputs in [-87, 88] it was within 1 ulp of the correctly rounded result
// (vector_math_test asserts at most 2). Results depend only on the input, not on the lane.
#pragma once

#include <cstdint>

#include <immintrin.h>

namespace vllm::cpu {

#define VLLM_VECTOR_MATH_TARGET __attribute__((target("avx512f"), always_inline))

// Returns the mask of the first min(remaining, 16) lanes, for the last vector of a row.
inline __mmask16 tail_mask16(int64_t remaining) {
  return static_cast<__mmask16>(remaining >= 16 ? 0xFFFF : (1u << remaining) - 1);
}

// Returns exp(x) per lane. NaN stays NaN, x below -104 (and -inf) gives 0, x above 88.73 (and inf)
// gives inf.
VLLM_VECTOR_MATH_TARGET inline __m512 exp_avx512(__m512 x) {
  // Clamped to where the reduction stays finite, with results already 0 or inf at both
  // ends. max_ps and min_ps return their second operand when either is NaN, so NaN passes.
  x = _mm512_min_ps(_mm512_set1_ps(128.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  const __m512 r2 = _mm512_mul_ps(r, r);
  const __m512 y = _mm512_add_ps(_mm512_fmadd_ps(p, r2, r), _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(y, n);
}

// Returns silu(g) * u = g / (1 + exp(-g)) * u per lane.
VLLM_VECTOR_MATH_TARGET inline __m512 silu_mul_avx512(__m512 g, __m512 u) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 minus_g = _mm512_sub_ps(_mm512_setzero_ps(), g);
  const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, exp_avx512(minus_g)));
  return _mm512_mul_ps(silu, u);
}

// Returns tanh(x) = sign(x) (1 - 2 / (exp(2 |x|) + 1)) per lane. The absolute error is about
// 1e-7, so for |x| below about 1e-3 the relative error exceeds float precision. Use it where
// an absolute error that small does not matter, as in GELU, which adds the result to 1.
VLLM_VECTOR_MATH_TARGET inline __m512 tanh_avx512(__m512 x) {
  const __m512i sign_bit = _mm512_set1_epi32(static_cast<int>(0x80000000u));
  const __m512i bits = _mm512_castps_si512(x);
  const __m512 magnitude = _mm512_castsi512_ps(_mm512_andnot_si512(sign_bit, bits));
  const __m512 e = exp_avx512(_mm512_add_ps(magnitude, magnitude));
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 t = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
  return _mm512_castsi512_ps(
      _mm512_or_si512(_mm512_castps_si512(t), _mm512_and_si512(sign_bit, bits)));
}

#undef VLLM_VECTOR_MATH_TARGET

}  // namespace vllm::cpu
