// LayerNorm, GELU (tanh approximation), SiLU-and-multiply and tanh soft-capping against plain
// double-precision references written from their definitions, on every instruction set, plus
// thread-count independence.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/errors.h"
#include "kernel_test_util.h"
#include "kernels/ops.h"

namespace vllm {
namespace {

std::vector<float> random_values(size_t n, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

double reference_gelu_tanh(double x) {
  const double pi = std::acos(-1.0);
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / pi) * (x + 0.044715 * x * x * x)));
}

using testing::kAllIsas;

// Restores the instruction set and thread count after each test.
class NormActivationTest : public testing::KernelsFixture {};

TEST_F(NormActivationTest, LayerNormMatchesReference) {
  const int64_t num_tokens = 7, hidden = 200;
  const double eps = 1e-5;
  // An offset mean checks that the variance is taken around the mean.
  std::vector<float> x = random_values(num_tokens * hidden, 2.0f, 1);
  for (float& v : x) v += 3.0f;
  const std::vector<float> weight = random_values(hidden, 1.0f, 2);
  const std::vector<float> bias = random_values(hidden, 1.0f, 3);
  std::vector<float> out(x.size());
  ops::layer_norm(Device::kCpu, x, weight, bias, eps, out);

  for (int64_t t = 0; t < num_tokens; ++t) {
    double mean = 0.0;
    for (int64_t k = 0; k < hidden; ++k) mean += x[t * hidden + k];
    mean /= hidden;
    double variance = 0.0;
    for (int64_t k = 0; k < hidden; ++k) {
      variance += (x[t * hidden + k] - mean) * (x[t * hidden + k] - mean);
    }
    variance /= hidden;
    for (int64_t k = 0; k < hidden; ++k) {
      const double expected =
          (x[t * hidden + k] - mean) / std::sqrt(variance + eps) * weight[k] + bias[k];
      ASSERT_NEAR(out[t * hidden + k], expected, 1e-5 * (1.0 + std::abs(expected)))
          << "token " << t << " element " << k;
    }
  }
}

TEST_F(NormActivationTest, LayerNormWithoutBias) {
  const int64_t hidden = 64;
  const std::vector<float> x = random_values(2 * hidden, 1.0f, 4);
  const std::vector<float> weight = random_values(hidden, 1.0f, 5);
  const std::vector<float> zeros(hidden, 0.0f);
  std::vector<float> without(x.size()), with_zero_bias(x.size());
  ops::layer_norm(Device::kCpu, x, weight, {}, 1e-5, without);
  ops::layer_norm(Device::kCpu, x, weight, zeros, 1e-5, with_zero_bias);
  EXPECT_EQ(without, with_zero_bias);
}

TEST_F(NormActivationTest, LayerNormInPlace) {
  const int64_t hidden = 48;
  std::vector<float> x = random_values(3 * hidden, 1.0f, 6);
  const std::vector<float> weight = random_values(hidden, 1.0f, 7);
  const std::vector<float> bias = random_values(hidden, 1.0f, 8);
  std::vector<float> out(x.size());
  ops::layer_norm(Device::kCpu, x, weight, bias, 1e-5, out);
  ops::layer_norm(Device::kCpu, x, weight, bias, 1e-5, x);
  EXPECT_EQ(x, out);
}

TEST_F(NormActivationTest, LayerNormRejectsBadShapes) {
  const std::vector<float> x(10), weight(4), bias(3);
  std::vector<float> out(10);
  EXPECT_THROW(ops::layer_norm(Device::kCpu, x, weight, {}, 1e-5, out), InternalError);
  const std::vector<float> x8(8);
  std::vector<float> out8(8);
  EXPECT_THROW(ops::layer_norm(Device::kCpu, x8, weight, bias, 1e-5, out8), InternalError);
}

TEST_F(NormActivationTest, GeluTanhMatchesReference) {
  std::vector<float> x = random_values(1000, 3.0f, 9);
  x.insert(x.end(), {0.0f, -0.0f, 1.0f, -1.0f, 10.0f, -10.0f, 30.0f, -30.0f});
  for (cpu::CpuIsa isa : kAllIsas) {
    cpu::set_isa(isa);
    std::vector<float> out(x.size());
    ops::gelu_tanh(Device::kCpu, x, out);
    for (size_t i = 0; i < x.size(); ++i) {
      const double expected = reference_gelu_tanh(x[i]);
      ASSERT_NEAR(out[i], expected, 1e-6 * (1.0 + std::abs(expected)))
          << "x = " << x[i] << " on " << cpu::isa_name(isa);
    }
  }
}

// Checks a gated activation op(gate, up) on every instruction set against
// reference(gate) * up, within relative_tolerance * |expected| + absolute_tolerance.
template <typename Op, typename Reference>
void expect_gated_matches(Op op, Reference reference, const std::vector<float>& gate,
                          const std::vector<float>& up, double relative_tolerance,
                          double absolute_tolerance) {
  for (cpu::CpuIsa isa : kAllIsas) {
    cpu::set_isa(isa);
    std::vector<float> out(gate.size());
    op(Device::kCpu, gate, up, out);
    for (size_t i = 0; i < gate.size(); ++i) {
      const double expected = reference(gate[i]) * up[i];
      ASSERT_NEAR(out[i], expected, relative_tolerance * std::abs(expected) + absolute_tolerance)
          << "element " << i << " on " << cpu::isa_name(isa);
    }
  }
}

TEST_F(NormActivationTest, GeluTanhAndMulMatchesReference) {
  // 1e-6 * (1 + |expected|).
  expect_gated_matches(ops::gelu_tanh_and_mul, reference_gelu_tanh,
                       random_values(777, 2.0f, 10), random_values(777, 2.0f, 11), 1e-6, 1e-6);
}

// 40,001 elements: several parallel ranges and a partial vector at the end.
TEST_F(NormActivationTest, SiluAndMulMatchesReference) {
  const auto reference_silu = [](double g) { return g / (1.0 + std::exp(-g)); };
  expect_gated_matches(ops::silu_and_mul, reference_silu, random_values(40001, 4.0f, 17),
                       random_values(40001, 2.0f, 18), 1e-6, 1e-30);
}

TEST_F(NormActivationTest, SoftCapMatchesReference) {
  std::vector<float> x = random_values(500, 40.0f, 12);
  const std::vector<float> original = x;
  const float cap = 30.0f;
  ops::tanh_soft_cap(Device::kCpu, x, cap);
  for (size_t i = 0; i < x.size(); ++i) {
    const double expected = cap * std::tanh(static_cast<double>(original[i]) / cap);
    ASSERT_NEAR(x[i], expected, 1e-5 * (1.0 + std::abs(expected))) << "x = " << original[i];
    ASSERT_LT(std::abs(x[i]), cap + 1e-4f);
  }
}

TEST_F(NormActivationTest, SoftCapRejectsZeroCap) {
  std::vector<float> x(4, 1.0f);
  EXPECT_THROW(ops::tanh_soft_cap(Device::kCpu, x, 0.0f), InternalError);
}

// Large enough for several parallel ranges in every op.
TEST_F(NormActivationTest, ThreadCountIndependent) {
  const int64_t num_tokens = 33, hidden = 1024;
  const std::vector<float> x = random_values(num_tokens * hidden, 1.5f, 13);
  const std::vector<float> up = random_values(num_tokens * hidden, 1.5f, 14);
  const std::vector<float> weight = random_values(hidden, 1.0f, 15);
  const std::vector<float> bias = random_values(hidden, 1.0f, 16);

  auto run = [&](int threads) {
    set_num_threads(threads);
    std::vector<float> normed(x.size()), gelu(x.size()), gated(x.size()), silu(x.size());
    ops::layer_norm(Device::kCpu, x, weight, bias, 1e-5, normed);
    ops::gelu_tanh(Device::kCpu, x, gelu);
    ops::gelu_tanh_and_mul(Device::kCpu, x, up, gated);
    ops::tanh_soft_cap(Device::kCpu, gated, 5.0f);
    ops::silu_and_mul(Device::kCpu, x, up, silu);
    return std::vector<std::vector<float>>{normed, gelu, gated, silu};
  };
  const auto single = run(1);
  const auto multi = run(3);
  EXPECT_EQ(single[0], multi[0]);
  EXPECT_EQ(single[1], multi[1]);
  EXPECT_EQ(single[2], multi[2]);
  EXPECT_EQ(single[3], multi[3]);
}

}  // namespace
}  // namespace vllm
