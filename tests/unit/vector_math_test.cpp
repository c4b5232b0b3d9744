// The AVX-512 exp, silu and tanh against double-precision libm.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/vector_math.h"

namespace vllm::cpu {
namespace {

bool has_avx512() { return __builtin_cpu_supports("avx512f"); }

// Applies `fn` to 16 lanes at a time. The tail is padded with zeros.
template <typename Fn>
__attribute__((target("avx512f"))) std::vector<float> map16(const std::vector<float>& x, Fn fn) {
  std::vector<float> out(x.size());
  for (size_t i = 0; i < x.size(); i += 16) {
    float lanes[16] = {};
    const size_t n = std::min<size_t>(16, x.size() - i);
    std::memcpy(lanes, x.data() + i, n * sizeof(float));
    _mm512_storeu_ps(lanes, fn(_mm512_loadu_ps(lanes)));
    std::memcpy(out.data() + i, lanes, n * sizeof(float));
  }
  return out;
}

std::vector<float> exp_of(const std::vector<float>& x) {
  return map16(x, [](__m512 v) __attribute__((target("avx512f"))) { return exp_avx512(v); });
}

// Returns the distance in units in the last place between two finite floats of one sign.
int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, sizeof(ia));
  std::memcpy(&ib, &b, sizeof(ib));
  return std::abs(static_cast<int64_t>(ia) - static_cast<int64_t>(ib));
}

TEST(VectorMath, ExpWithinTwoUlp) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-87.0f, 88.0f);
  std::vector<float> x(1 << 20);
  for (float& v : x) v = dist(rng);
  // Small arguments, where the polynomial alone decides.
  for (int i = 0; i < 4096; ++i) x.push_back(static_cast<float>(i - 2048) * 1e-4f);
  const std::vector<float> y = exp_of(x);
  int64_t worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const float expected = static_cast<float>(std::exp(static_cast<double>(x[i])));
    worst = std::max(worst, ulp_distance(y[i], expected));
    ASSERT_LE(ulp_distance(y[i], expected), 2) << "exp(" << x[i] << ")";
  }
  RecordProperty("max_ulp", static_cast<int>(worst));
}

TEST(VectorMath, ExpSpecialValues) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> y = exp_of({0.0f, -inf, inf, -200.0f, 100.0f,
                                       std::numeric_limits<float>::quiet_NaN(), -104.0f,
                                       88.8f});
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], inf);
  EXPECT_EQ(y[3], 0.0f);
  EXPECT_EQ(y[4], inf);
  EXPECT_TRUE(std::isnan(y[5]));
  EXPECT_EQ(y[6], 0.0f);
  EXPECT_EQ(y[7], inf);
}

TEST(VectorMath, ExpDenormalResults) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::vector<float> x;
  for (int i = 0; i <= 160; ++i) x.push_back(-87.5f - 0.1f * static_cast<float>(i));
  const std::vector<float> y = exp_of(x);
  for (size_t i = 0; i < x.size(); ++i) {
    const double expected = std::exp(static_cast<double>(x[i]));
    // Below the normal range the spacing is the smallest denormal, 2^-149.
    EXPECT_NEAR(y[i], expected, std::max(2.0 * std::ldexp(1.0, -149), 4e-7 * expected))
        << "exp(" << x[i] << ")";
  }
}

TEST(VectorMath, SiluMulMatchesDouble) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> dist(-30.0f, 30.0f);
  std::vector<float> g(100003), u(g.size());
  for (float& v : g) v = dist(rng);
  for (float& v : u) v = dist(rng);
  std::vector<float> out(g.size());
  for (size_t i = 0; i + 16 <= g.size(); i += 16) {
    [&]() __attribute__((target("avx512f"))) {
      const __m512 gv = _mm512_loadu_ps(g.data() + i);
      _mm512_storeu_ps(out.data() + i, silu_mul_avx512(gv, _mm512_loadu_ps(u.data() + i)));
    }();
  }
  for (size_t i = 0; i + 16 <= g.size(); ++i) {
    const double gd = g[i];
    const double expected = gd / (1.0 + std::exp(-gd)) * u[i];
    ASSERT_NEAR(out[i], expected, 1e-6 * std::abs(expected) + 1e-30) << "g=" << g[i];
  }
}

TEST(VectorMath, TanhAbsoluteError) {
  if (!has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);
  x.push_back(std::numeric_limits<float>::infinity());
  x.push_back(-std::numeric_limits<float>::infinity());
  const std::vector<float> y =
      map16(x, [](__m512 v) __attribute__((target("avx512f"))) { return tanh_avx512(v); });
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_NEAR(y[i], std::tanh(static_cast<double>(x[i])), 2.5e-7) << "tanh(" << x[i] << ")";
    ASSERT_EQ(std::signbit(y[i]), std::signbit(x[i])) << "tanh(" << x[i] << ")";
  }
}

}  // namespace
}  // namespace vllm::cpu
