// Shared by the CPU kernel tests: the fixture that restores the kernels' global settings,
// and the pieces the block-format encoders use to build reference blocks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"

namespace vllm::testing {

inline constexpr cpu::CpuIsa kAllIsas[] = {cpu::CpuIsa::kScalar, cpu::CpuIsa::kAvx2,
                                           cpu::CpuIsa::kAvx512, cpu::CpuIsa::kAvx512Vnni};

// Restores the best ISA, the thread count and the activation-quantization switch after each
// test; activation quantization starts off.
class KernelsFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_threads_ = num_threads();
    saved_quant_ = cpu::activation_quant_enabled();
    cpu::set_activation_quant(false);
  }
  void TearDown() override {
    cpu::set_isa(cpu::best_isa());
    cpu::set_activation_quant(saved_quant_);
    set_num_threads(saved_threads_);
  }
  int saved_threads_ = 1;
  bool saved_quant_ = false;
};

// IEEE half to double, from the definition: sign, 5-bit exponent (bias 15), 10-bit mantissa.
inline double reference_half(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int exponent = (h >> 10) & 0x1F;
  const int mantissa = h & 0x3FF;
  if (exponent == 0) return sign * std::ldexp(mantissa, -24);
  return sign * std::ldexp(1024 + mantissa, exponent - 25);
}

// A random finite half in [2^-7, 2^2) of either sign, so that the block formats' products
// are exact in double and round once to float.
inline uint16_t random_scale(std::mt19937& rng) {
  std::uniform_int_distribution<int> exponent(8, 16), mantissa(0, 1023), sign(0, 1);
  return static_cast<uint16_t>((sign(rng) << 15) | (exponent(rng) << 10) | mantissa(rng));
}

// Appends `v` little-endian.
inline void put_u16(std::vector<uint8_t>& bytes, uint16_t v) {
  bytes.push_back(static_cast<uint8_t>(v & 0xFF));
  bytes.push_back(static_cast<uint8_t>(v >> 8));
}

// Encoded blocks and the values they must dequantize to.
struct Encoded {
  std::vector<uint8_t> bytes;
  std::vector<double> values;
};

// Checks on every ISA path that linear() gives each of the `num_tokens` rows of `x`
// ([num_tokens, w.cols]) the same bits alone, in the batch, and on 1 or 2 threads.
// `label` names the case in failure messages.
inline void expect_linear_batch_invariant(const WeightMatrix& w, const std::vector<float>& x,
                                          int64_t num_tokens, const std::string& label) {
  const int64_t rows = w.rows, cols = w.cols;
  for (cpu::CpuIsa isa : kAllIsas) {
    cpu::set_isa(isa);
    set_num_threads(2);
    std::vector<float> batched(static_cast<size_t>(num_tokens * rows));  // [num_tokens, rows]
    ops::linear(x, num_tokens, w, {}, batched);
    set_num_threads(1);
    std::vector<float> batched_one_thread(batched.size());  // [num_tokens, rows]
    ops::linear(x, num_tokens, w, {}, batched_one_thread);
    for (int64_t t = 0; t < num_tokens; ++t) {
      std::vector<float> single(static_cast<size_t>(rows));  // [rows]
      ops::linear(std::span<const float>(x).subspan(t * cols, cols), 1, w, {}, single);
      for (int64_t j = 0; j < rows; ++j) {
        ASSERT_EQ(single[j], batched[t * rows + j])
            << label << " batch 1 vs " << num_tokens << ", t=" << t << " j=" << j << " on "
            << cpu::isa_name(isa);
        ASSERT_EQ(batched_one_thread[t * rows + j], batched[t * rows + j])
            << label << " 1 vs 2 threads, t=" << t << " j=" << j << " on "
            << cpu::isa_name(isa);
      }
    }
  }
}

}  // namespace vllm::testing
