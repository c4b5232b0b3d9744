// K-quant (Q4_K, Q5_K, Q6_K, Q8_K) and Q5_0 kernels against references written from the
// format descriptions, on every instruction set this CPU has plus scalar, and against
// gguf-py's dequantization of real Gemma 3 270M tensors.
//
// The random-block encoders below pack chosen codes and scales into bytes (the inverse of
// what the kernels do), so a kernel that reads a field from the wrong place fails.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "kernels/cpu/cpu_kernels.h"
#include "gemma3_model.h"
#include "kernels/ops.h"
#include "kernel_test_util.h"
#include "model_loader/gguf.h"

namespace vllm {
namespace {

using cpu::CpuIsa;

using testing::Encoded;
using testing::encode_q4_k_block;
using testing::kAllIsas;
using testing::random_int;
const GGMLType kTypes[] = {GGMLType::Q5_0, GGMLType::Q4_K, GGMLType::Q5_K, GGMLType::Q6_K,
                           GGMLType::Q8_K};

class QuantKernelsTest : public testing::KernelsFixture {};

// Q6_K: 6-bit codes c, x = d * scale[i / 16] * (c - 32). Element i = 128h + 32g + l takes
// its low 4 bits from byte 64h + 32 (g % 2) + l of ql (low nibble for g < 2) and its top
// 2 bits from bits 2g and 2g + 1 of byte 32h + l of qh.
void encode_q6_k_block(std::mt19937& rng, Encoded& e) {
  int code[256], scale[16];
  for (int& c : code) c = random_int(rng, 0, 63);
  for (int& s : scale) s = random_int(rng, -128, 127);
  const uint16_t d = testing::random_scale(rng);
  uint8_t ql[128] = {}, qh[64] = {};
  for (int i = 0; i < 256; ++i) {
    const int h = i / 128, g = (i % 128) / 32, l = i % 32;
    ql[64 * h + 32 * (g % 2) + l] |= static_cast<uint8_t>((code[i] & 0x0F) << (4 * (g / 2)));
    qh[32 * h + l] |= static_cast<uint8_t>((code[i] >> 4) << (2 * g));
  }
  e.bytes.insert(e.bytes.end(), ql, ql + 128);
  e.bytes.insert(e.bytes.end(), qh, qh + 64);
  for (int s : scale) e.bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(s)));
  testing::put_u16(e.bytes, d);
  for (int i = 0; i < 256; ++i) e.values.push_back(testing::reference_half(d) * scale[i / 16] * (code[i] - 32));
}

// Q8_K: fp32 d, 256 int8 codes, 16 int16 sums of 16 codes (unused by dequantization).
void encode_q8_k_block(std::mt19937& rng, Encoded& e) {
  const float d = std::ldexp(static_cast<float>(random_int(rng, 1, 1 << 20)), -random_int(rng, 20, 30));
  uint8_t raw[4];
  std::memcpy(raw, &d, 4);
  e.bytes.insert(e.bytes.end(), raw, raw + 4);
  int code[256];
  for (int& c : code) c = random_int(rng, -128, 127);
  for (int c : code) e.bytes.push_back(static_cast<uint8_t>(static_cast<int8_t>(c)));
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += code[16 * g + i];
    testing::put_u16(e.bytes, static_cast<uint16_t>(static_cast<int16_t>(sum)));
  }
  for (int c : code) e.values.push_back(static_cast<double>(d) * c);
}

// Q5_0: fp16 d, 4 bytes whose bit i is bit 4 of element i, 16 bytes holding elements j
// (low nibble) and j + 16 (high nibble): x = d * (c - 16).
void encode_q5_0_block(std::mt19937& rng, Encoded& e) {
  const uint16_t d = testing::random_scale(rng);
  int code[32];
  for (int& c : code) c = random_int(rng, 0, 31);
  testing::put_u16(e.bytes, d);
  uint32_t high = 0;
  for (int i = 0; i < 32; ++i) high |= static_cast<uint32_t>(code[i] >> 4) << i;
  for (int i = 0; i < 4; ++i) e.bytes.push_back(static_cast<uint8_t>(high >> (8 * i)));
  for (int j = 0; j < 16; ++j) {
    e.bytes.push_back(static_cast<uint8_t>((code[j] & 0x0F) | ((code[j + 16] & 0x0F) << 4)));
  }
  for (int c : code) e.values.push_back(testing::reference_half(d) * (c - 16));
}

int64_t block_size(GGMLType type) {
  return ggml_type_traits(static_cast<uint32_t>(type))->block_size;
}

// `num_elements` (a multiple of the type's block size) random elements of `type`.
Encoded random_elements(GGMLType type, int64_t num_elements, std::mt19937& rng) {
  Encoded e;
  for (int64_t b = 0; b < num_elements / block_size(type); ++b) {
    switch (type) {
      case GGMLType::Q4_K: encode_q4_k_block(false, rng, e); break;
      case GGMLType::Q5_K: encode_q4_k_block(true, rng, e); break;
      case GGMLType::Q6_K: encode_q6_k_block(rng, e); break;
      case GGMLType::Q8_K: encode_q8_k_block(rng, e); break;
      case GGMLType::Q5_0: encode_q5_0_block(rng, e); break;
      default: ADD_FAILURE() << "no test encoder for " << ggml_type_name(type); return e;
    }
  }
  return e;
}

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST_F(QuantKernelsTest, BlockSizesMatchLayouts) {
  std::mt19937 rng(3);
  for (GGMLType type : kTypes) {
    const auto traits = ggml_type_traits(static_cast<uint32_t>(type));
    ASSERT_TRUE(traits.has_value()) << ggml_type_name(type);
    EXPECT_TRUE(traits->supported) << ggml_type_name(type);
    const Encoded e = random_elements(type, traits->block_size, rng);
    EXPECT_EQ(static_cast<int64_t>(e.bytes.size()), traits->type_size) << ggml_type_name(type);
  }
}

TEST_F(QuantKernelsTest, DequantizeMatchesReference) {
  for (GGMLType type : kTypes) {
    std::mt19937 rng(1234);
    const int64_t rows = 3, cols = 4 * block_size(type);
    const Encoded e = random_elements(type, rows * cols, rng);
    const WeightMatrix w{type, rows, cols, e.bytes.data()};
    ASSERT_EQ(static_cast<size_t>(rows * w.row_bytes()), e.bytes.size()) << ggml_type_name(type);
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> out(e.values.size());
      ops::dequantize_rows(w, 0, rows, out);
      for (size_t i = 0; i < out.size(); ++i) {
        // Exact in double; every path must round it once to float.
        ASSERT_EQ(out[i], static_cast<float>(e.values[i]))
            << ggml_type_name(type) << " element " << i << " on " << cpu::isa_name(isa);
      }
    }
  }
}

TEST_F(QuantKernelsTest, DequantizeRowsOffset) {
  for (GGMLType type : kTypes) {
    std::mt19937 rng(8);
    const int64_t rows = 4, cols = 2 * block_size(type);
    const Encoded e = random_elements(type, rows * cols, rng);
    const WeightMatrix w{type, rows, cols, e.bytes.data()};
    std::vector<float> out(static_cast<size_t>(cols));
    ops::dequantize_rows(w, 2, 1, out);
    for (int64_t i = 0; i < cols; ++i) {
      ASSERT_EQ(out[i], static_cast<float>(e.values[2 * cols + i]))
          << ggml_type_name(type) << " element " << i;
    }
  }
}

struct LinearCase {
  GGMLType type;
  int64_t rows;
  int64_t cols;
  int64_t num_tokens;
};

// One row and one token; partial row tiles (37, 19) with token counts that leave partial
// token tiles (6, 5, 3); long rows (2048, 4096).
const LinearCase kLinearCases[] = {
    {GGMLType::Q4_K, 1, 256, 1},   {GGMLType::Q4_K, 37, 512, 6},  {GGMLType::Q5_K, 19, 768, 5},
    {GGMLType::Q6_K, 37, 512, 6},  {GGMLType::Q6_K, 3, 2048, 3},  {GGMLType::Q8_K, 5, 256, 2},
    {GGMLType::Q5_0, 1, 32, 1},    {GGMLType::Q5_0, 37, 96, 7},   {GGMLType::Q5_0, 3, 4096, 5},
    {GGMLType::Q4_K, 2, 4096, 1},
};

TEST_F(QuantKernelsTest, LinearMatchesDoubleReference) {
  for (const LinearCase& c : kLinearCases) {
    std::mt19937 rng(99);
    const Encoded e = random_elements(c.type, c.rows * c.cols, rng);
    const WeightMatrix w{c.type, c.rows, c.cols, e.bytes.data()};
    const std::vector<float> x = random_floats(static_cast<size_t>(c.num_tokens * c.cols), rng);
    const std::vector<float> bias = random_floats(static_cast<size_t>(c.rows), rng);
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> y(static_cast<size_t>(c.num_tokens * c.rows));
      ops::linear(x, c.num_tokens, w, bias, y);
      for (int64_t t = 0; t < c.num_tokens; ++t) {
        for (int64_t j = 0; j < c.rows; ++j) {
          double ref = bias[j], magnitude = std::abs(bias[j]);
          for (int64_t k = 0; k < c.cols; ++k) {
            const double product = static_cast<double>(x[t * c.cols + k]) * e.values[j * c.cols + k];
            ref += product;
            magnitude += std::abs(product);
          }
          ASSERT_NEAR(y[t * c.rows + j], ref, 1e-6 * magnitude + 1e-30)
              << ggml_type_name(c.type) << " " << c.rows << "x" << c.cols << " t=" << t
              << " j=" << j << " on " << cpu::isa_name(isa);
        }
      }
    }
  }
}

TEST_F(QuantKernelsTest, LinearBatchInvariant) {
  // A single token takes the fused path where one exists; batches use the scratch tiles.
  for (GGMLType type : kTypes) {
    std::mt19937 rng(5);
    const int64_t rows = 70, cols = 2 * 256, num_tokens = 7;
    const Encoded e = random_elements(type, rows * cols, rng);
    const WeightMatrix w{type, rows, cols, e.bytes.data()};
    const std::vector<float> x = random_floats(static_cast<size_t>(num_tokens * cols), rng);
    testing::expect_linear_batch_invariant(w, x, num_tokens, std::string(ggml_type_name(type)));
  }
}

// --- real tensors of the Gemma 3 270M Q4_K_M file against gguf-py ---------------------

nlohmann::json load_dequant_goldens() {
  const std::string path = std::string(VLLM_TEST_DATA_DIR) + "/goldens/gemma3_270m_dequant.json";
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open " + path);
  return nlohmann::json::parse(file);
}

TEST_F(QuantKernelsTest, GemmaTensorsMatchGgufPy) {
  const std::string model = testing::find_gemma3_model();
  if (model.empty()) {
    GTEST_SKIP() << "Gemma 3 270M not found: run tools/fetch_gemma3.sh or set "
                    "VLLM_TEST_GEMMA3_MODEL";
  }
  ASSERT_TRUE(std::filesystem::is_regular_file(model))
      << "VLLM_TEST_GEMMA3_MODEL names a missing file: " << model;
  const auto gguf = GGUFFile::open(model);
  const nlohmann::json goldens = load_dequant_goldens();
  for (const nlohmann::json& expected : goldens.at("tensors")) {
    const std::string name = expected.at("name");
    const GGUFTensorInfo& info = gguf->tensor(name);
    ASSERT_EQ(ggml_type_name(info.type), expected.at("type").get<std::string>()) << name;
    const WeightMatrix w{info.type, expected.at("rows").get<int64_t>(),
                         expected.at("cols").get<int64_t>(), gguf->tensor_data(info)};
    ASSERT_EQ(info.shape.at(0), w.cols) << name;
    ASSERT_EQ(info.shape.at(1), w.rows) << name;
    const std::vector<int64_t> sample_rows = expected.at("sample_rows");
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> values(static_cast<size_t>(w.rows * w.cols));
      ops::dequantize_rows(w, 0, w.rows, values);
      double sum = 0, sum_abs = 0;
      for (float v : values) {
        sum += v;
        sum_abs += std::abs(v);
      }
      // gguf-py computes Q4_K as d1 * q - m1 with two roundings where the kernels fuse
      // them into one, so values may differ by about one float32 rounding of d1 * q.
      const double sum_abs_expected = expected.at("sum_abs");
      EXPECT_NEAR(sum_abs, sum_abs_expected, 1e-6 * sum_abs_expected)
          << name << " on " << cpu::isa_name(isa);
      EXPECT_NEAR(sum, expected.at("sum").get<double>(), 1e-6 * sum_abs_expected)
          << name << " on " << cpu::isa_name(isa);
      for (size_t r = 0; r < sample_rows.size(); ++r) {
        const std::vector<double> row = expected.at("values").at(r);
        for (size_t i = 0; i < row.size(); ++i) {
          const float actual = values[static_cast<size_t>(sample_rows[r] * w.cols) + i];
          ASSERT_NEAR(actual, row[i], 1e-6 * std::abs(row[i]) + 1e-7)
              << name << " row " << sample_rows[r] << " element " << i << " on "
              << cpu::isa_name(isa);
        }
      }
    }
  }
}

}  // namespace
}  // namespace vllm
