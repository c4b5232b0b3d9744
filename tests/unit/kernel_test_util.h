// Shared by the CPU kernel tests: the fixture that restores the kernels' global settings,
// and the pieces the block-format encoders use to build reference blocks.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"

namespace vllm::testing {

inline constexpr cpu::CpuIsa kAllIsas[] = {cpu::CpuIsa::kScalar, cpu::CpuIsa::kAvx2,
                                           cpu::CpuIsa::kAvx512, cpu::CpuIsa::kAvx512Vnni,
                                           cpu::CpuIsa::kAvx512Amx};

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

// Builds `num_blocks` random blocks of `type` and their reference values.
inline Encoded random_blocks(GGMLType type, int num_blocks, std::mt19937& rng) {
  Encoded e;
  std::uniform_int_distribution<int> byte(0, 255);
  for (int b = 0; b < num_blocks; ++b) {
    const uint16_t d = random_scale(rng);
    const uint16_t m = random_scale(rng);
    uint8_t qs[32];
    for (auto& q : qs) q = static_cast<uint8_t>(byte(rng));
    uint32_t qh = 0;
    for (int i = 0; i < 4; ++i) qh |= static_cast<uint32_t>(byte(rng)) << (8 * i);
    const double dd = reference_half(d), dm = reference_half(m);
    // Element i < 16 uses the low nibble of qs[i], element i >= 16 the high nibble of
    // qs[i - 16]; Q5 formats take bit 4 of element i from bit i of qh.
    auto nibble = [&](int i) { return i < 16 ? (qs[i] & 0x0F) : (qs[i - 16] >> 4); };
    auto fifth_bit = [&](int i) { return static_cast<int>((qh >> i) & 1) << 4; };
    switch (type) {
      case GGMLType::Q4_0:
        put_u16(e.bytes, d);
        e.bytes.insert(e.bytes.end(), qs, qs + 16);
        for (int i = 0; i < 32; ++i) e.values.push_back((nibble(i) - 8) * dd);
        break;
      case GGMLType::Q4_1:
        put_u16(e.bytes, d);
        put_u16(e.bytes, m);
        e.bytes.insert(e.bytes.end(), qs, qs + 16);
        for (int i = 0; i < 32; ++i) e.values.push_back(nibble(i) * dd + dm);
        break;
      case GGMLType::Q5_0:
        put_u16(e.bytes, d);
        for (int i = 0; i < 4; ++i) e.bytes.push_back(static_cast<uint8_t>(qh >> (8 * i)));
        e.bytes.insert(e.bytes.end(), qs, qs + 16);
        for (int i = 0; i < 32; ++i) e.values.push_back(((nibble(i) | fifth_bit(i)) - 16) * dd);
        break;
      case GGMLType::Q5_1:
        put_u16(e.bytes, d);
        put_u16(e.bytes, m);
        for (int i = 0; i < 4; ++i) e.bytes.push_back(static_cast<uint8_t>(qh >> (8 * i)));
        e.bytes.insert(e.bytes.end(), qs, qs + 16);
        for (int i = 0; i < 32; ++i) e.values.push_back((nibble(i) | fifth_bit(i)) * dd + dm);
        break;
      case GGMLType::Q8_0:
        put_u16(e.bytes, d);
        e.bytes.insert(e.bytes.end(), qs, qs + 32);
        for (int i = 0; i < 32; ++i) e.values.push_back(static_cast<int8_t>(qs[i]) * dd);
        break;
      case GGMLType::F16:
        for (int i = 0; i < 32; ++i) {
          // Any half but inf and NaN: exponent 31 is excluded.
          uint16_t h;
          do h = static_cast<uint16_t>(byte(rng) | (byte(rng) << 8));
          while (((h >> 10) & 0x1F) == 0x1F);
          put_u16(e.bytes, h);
          e.values.push_back(reference_half(h));
        }
        break;
      case GGMLType::BF16:
        for (int i = 0; i < 32; ++i) {
          uint16_t h = static_cast<uint16_t>(byte(rng) | (byte(rng) << 8));
          if (((h >> 7) & 0xFF) == 0xFF) h &= 0xBFFF;  // keep it finite
          put_u16(e.bytes, h);
          uint32_t bits = static_cast<uint32_t>(h) << 16;
          float f;
          std::memcpy(&f, &bits, sizeof(f));
          e.values.push_back(f);
        }
        break;
      case GGMLType::F32:
        for (int i = 0; i < 32; ++i) {
          const float f = std::uniform_real_distribution<float>(-4.0f, 4.0f)(rng);
          uint8_t raw[4];
          std::memcpy(raw, &f, 4);
          e.bytes.insert(e.bytes.end(), raw, raw + 4);
          e.values.push_back(f);
        }
        break;
      default:
        ADD_FAILURE() << "no test encoder for " << ggml_type_name(type);
    }
  }
  return e;
}

inline int random_int(std::mt19937& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

// Q4_K, or Q5_K when five_bit is set. The block starts with d, dmin and the 8 six-bit
// scales and mins packed into 12 bytes. Q5_K then has 32 bytes in which bit s of byte l is
// bit 4 of element l of sub-block s. Last come 128 bytes: byte 32c + l holds element l of
// sub-block 2c in its low nibble and of sub-block 2c + 1 in its high nibble.
inline void encode_q4_k_block(bool five_bit, std::mt19937& rng, Encoded& e) {
  const uint16_t d = random_scale(rng), dmin = random_scale(rng);
  int scale[8], min[8], code[256];
  for (int s = 0; s < 8; ++s) {
    scale[s] = random_int(rng, 0, 63);
    min[s] = random_int(rng, 0, 63);
  }
  for (int& c : code) c = random_int(rng, 0, five_bit ? 31 : 15);
  put_u16(e.bytes, d);
  put_u16(e.bytes, dmin);
  uint8_t packed[12];
  for (int j = 0; j < 4; ++j) {
    packed[j] = static_cast<uint8_t>(scale[j] | ((scale[j + 4] >> 4) << 6));
    packed[j + 4] = static_cast<uint8_t>(min[j] | ((min[j + 4] >> 4) << 6));
    packed[j + 8] = static_cast<uint8_t>((scale[j + 4] & 0x0F) | ((min[j + 4] & 0x0F) << 4));
  }
  e.bytes.insert(e.bytes.end(), packed, packed + 12);
  if (five_bit) {
    for (int l = 0; l < 32; ++l) {
      uint8_t high = 0;
      for (int s = 0; s < 8; ++s) high |= static_cast<uint8_t>(((code[32 * s + l] >> 4) & 1) << s);
      e.bytes.push_back(high);
    }
  }
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int lo = code[64 * c + l] & 0x0F, hi = code[64 * c + 32 + l] & 0x0F;
      e.bytes.push_back(static_cast<uint8_t>(lo | (hi << 4)));
    }
  }
  for (int i = 0; i < 256; ++i) {
    const int s = i / 32;
    e.values.push_back(reference_half(d) * scale[s] * code[i] - reference_half(dmin) * min[s]);
  }
}

// n floats uniform in [-scale, scale).
inline std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

// Keeps the first path's output in `first`, and checks that later paths give the same bits.
inline void expect_same_as_first_isa(std::vector<float>& first, const std::vector<float>& y,
                                     cpu::CpuIsa isa, const std::string& label) {
  if (first.empty()) {
    first = y;
    return;
  }
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_EQ(y[i], first[i]) << label << " element " << i << " on " << cpu::isa_name(isa)
                              << " vs scalar";
  }
}

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
