// The row-group layout and its sliced-activation product (kernels/cpu/linear_row_groups.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/errors.h"
#include "kernel_test_util.h"
#include "kernels/ops.h"
#include "model_loader/gguf.h"
#include "models/decoder_weights.h"
#include "models/gguf_weights.h"
#include "test_model.h"

namespace vllm {
namespace {

using cpu::CpuIsa;
using testing::Encoded;
using testing::kAllIsas;
using testing::random_blocks;

class RowGroupsTest : public testing::KernelsFixture {};

const GGMLType kGroupTypes[] = {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q8_0,
                                GGMLType::Q4_K};

// A matrix in row groups, with the values of its row layout.
struct Packed {
  Encoded encoded;
  std::vector<uint8_t> bytes;  // row-group layout
  WeightMatrix weight;
};

Packed make_packed(GGMLType type, int64_t rows, int64_t cols, std::mt19937& rng) {
  Packed p;
  if (type == GGMLType::Q4_K) {
    for (int64_t b = 0; b < rows * cols / 256; ++b) testing::encode_q4_k_block(false, rng, p.encoded);
  } else {
    p.encoded = random_blocks(type, static_cast<int>(rows * cols / 32), rng);
  }
  const WeightMatrix row_layout{type, rows, cols, p.encoded.bytes.data()};
  p.bytes.resize(p.encoded.bytes.size());
  ops::pack_row_groups(row_layout, p.bytes.data());
  p.weight = row_layout;
  p.weight.data = p.bytes.data();
  p.weight.layout = WeightLayout::kRowGroups16;
  return p;
}

// Packs Q8_0 rows given in the file layout into `packed` and returns the row-group matrix.
WeightMatrix pack_q8_0(const std::vector<uint8_t>& file_rows, int64_t rows, int64_t cols,
                       std::vector<uint8_t>& packed) {
  packed.resize(file_rows.size());
  const WeightMatrix row_layout{GGMLType::Q8_0, rows, cols, file_rows.data()};
  ops::pack_row_groups(row_layout, packed.data());
  WeightMatrix weight = row_layout;
  weight.data = packed.data();
  weight.layout = WeightLayout::kRowGroups16;
  return weight;
}

TEST_F(RowGroupsTest, DequantizeAndEmbeddingGiveRowValues) {
  for (GGMLType type : kGroupTypes) {
    std::mt19937 rng(5);
    const int64_t rows = 32, cols = type == GGMLType::Q4_K ? 512 : 96;
    Packed p = make_packed(type, rows, cols, rng);
    const WeightMatrix row_layout{type, rows, cols, p.encoded.bytes.data()};
    std::vector<float> expected(static_cast<size_t>(rows * cols));
    ops::dequantize_rows(row_layout, 0, rows, expected);
    std::vector<float> out(static_cast<size_t>(rows * cols));
    ops::dequantize_rows(p.weight, 0, rows, out);
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_EQ(out[i], expected[i]) << ggml_type_name(type) << " element " << i;
      ASSERT_NEAR(out[i], p.encoded.values[i], 1e-6 * std::abs(p.encoded.values[i]))
          << ggml_type_name(type) << " element " << i;
    }
    const std::vector<int32_t> ids = {31, 0, 17, 17};
    std::vector<float> gathered(ids.size() * cols);
    ops::embedding(p.weight, ids, gathered);
    for (size_t t = 0; t < ids.size(); ++t) {
      for (int64_t k = 0; k < cols; ++k) {
        ASSERT_EQ(gathered[t * cols + k], expected[ids[t] * cols + k])
            << ggml_type_name(type) << " token " << ids[t] << " k=" << k;
      }
    }
    // Packing in place gives the same bytes as packing into a copy.
    std::vector<uint8_t> in_place = p.encoded.bytes;
    ops::pack_row_groups(WeightMatrix{type, rows, cols, in_place.data()}, in_place.data());
    EXPECT_EQ(in_place, p.bytes) << ggml_type_name(type);
  }
}

TEST_F(RowGroupsTest, RejectsWhatHasNoLayout) {
  std::mt19937 rng(6);
  Encoded e = random_blocks(GGMLType::Q8_0, 20 * 2, rng);
  std::vector<uint8_t> out(e.bytes.size());
  // 20 rows are not whole groups; Q5_1 has no group layout.
  EXPECT_THROW(ops::pack_row_groups(WeightMatrix{GGMLType::Q8_0, 20, 64, e.bytes.data()}, out.data()),
               InvalidArgument);
  Encoded q51 = random_blocks(GGMLType::Q5_1, 16, rng);
  EXPECT_THROW(ops::pack_row_groups(WeightMatrix{GGMLType::Q5_1, 16, 32, q51.bytes.data()}, out.data()),
               InvalidArgument);
  Packed p = make_packed(GGMLType::Q8_0, 48, 64, rng);
  EXPECT_NO_THROW(slice_rows(p.weight, 16, 32));
  EXPECT_THROW(slice_rows(p.weight, 8, 16), InternalError);
}

// Against the float64 product of the unquantized activations: the slices represent each
// activation to within d / 32768 (d = max|x| / 127 of its block), and the float steps round
// a few times per block.
TEST_F(RowGroupsTest, LinearMatchesReference) {
  struct Case {
    GGMLType type;
    int64_t rows, cols;
  };
  // One group of one block, several groups, and long rows (4096 values); 21 tokens fill one
  // AMX tile of 16 and leave a full and a partial tile of 4 tokens.
  const Case cases[] = {{GGMLType::Q4_0, 16, 32},   {GGMLType::Q4_1, 16, 32},
                        {GGMLType::Q5_0, 16, 32},   {GGMLType::Q8_0, 16, 32},
                        {GGMLType::Q4_0, 48, 96},   {GGMLType::Q4_1, 48, 96},
                        {GGMLType::Q5_0, 48, 96},   {GGMLType::Q8_0, 48, 96},
                        {GGMLType::Q4_1, 32, 4096}, {GGMLType::Q5_0, 16, 4096},
                        {GGMLType::Q8_0, 32, 4096}, {GGMLType::Q4_K, 16, 256},
                        {GGMLType::Q4_K, 48, 768},  {GGMLType::Q4_K, 16, 4096}};
  for (const Case& c : cases) {
    std::mt19937 rng(19);
    Packed p = make_packed(c.type, c.rows, c.cols, rng);
    const int64_t num_tokens = 21;
    std::vector<float> x = testing::random_floats(static_cast<size_t>(num_tokens * c.cols), rng, 2.0f);
    x[3] = 0.0f;
    std::fill(x.begin() + std::min<int64_t>(32, c.cols - 32), x.begin() + std::min<int64_t>(64, c.cols), 0.0f);  // d = 0
    x[c.cols + 5] = 1e-32f;  // a block of one tiny value: below the smallest scale
    x[2 * c.cols + 1] = 300.0f;  // an outlier: its block's other values get a coarse d
    std::vector<float> bias = testing::random_floats(static_cast<size_t>(c.rows), rng);

    std::vector<float> first_isa_y;
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> y(static_cast<size_t>(num_tokens * c.rows));
      ops::linear(x, num_tokens, p.weight, bias, y);
      for (int64_t t = 0; t < num_tokens; ++t) {
        for (int64_t j = 0; j < c.rows; ++j) {
          double ref = bias[j], magnitude = std::abs(bias[j]), slice_error = 0.0;
          for (int64_t b = 0; b < c.cols / 32; ++b) {
            float amax = 0.0f;
            for (int64_t k = 32 * b; k < 32 * b + 32; ++k)
              amax = std::max(amax, std::fabs(x[t * c.cols + k]));
            for (int64_t k = 32 * b; k < 32 * b + 32; ++k) {
              const double w = p.encoded.values[j * c.cols + k];
              ref += x[t * c.cols + k] * w;
              magnitude += std::abs(x[t * c.cols + k] * w);
              slice_error += std::abs(w) * (amax / 127.0) / 32768.0;
            }
          }
          ASSERT_NEAR(y[t * c.rows + j], ref, slice_error + 4e-6 * magnitude + 1e-30)
              << ggml_type_name(c.type) << " " << c.rows << "x" << c.cols << " t=" << t
              << " j=" << j << " on " << cpu::isa_name(isa);
        }
      }
      // The integer sums are exact and the float steps the same on every path.
      testing::expect_same_as_first_isa(first_isa_y, y, isa, std::string(ggml_type_name(c.type)));
    }
  }
}

TEST_F(RowGroupsTest, BatchAndThreadInvariant) {
  for (GGMLType type : kGroupTypes) {
    std::mt19937 rng(29);
    const int64_t cols = type == GGMLType::Q4_K ? 512 : 160;
    Packed p = make_packed(type, 80, cols, rng);
    // Two AMX tiles of 16 tokens, then tiles of 4 and 1.
    const int64_t num_tokens = 37;
    std::vector<float> x = testing::random_floats(static_cast<size_t>(num_tokens * cols), rng, 3.0f);
    testing::expect_linear_batch_invariant(p.weight, x, num_tokens,
                                           std::string(ggml_type_name(type)) + " row groups");
  }
}

// 300 tokens take two rounds of linear_row_groups_shared (256 and 44) and, on AMX, chunks of
// 128 or 256 tokens, then VNNI tiles for the last 12. Each token keeps its bits, and the
// bias reaches every round's rows.
TEST_F(RowGroupsTest, LongBatchCrossesRounds) {
  for (GGMLType type : kGroupTypes) {
    std::mt19937 rng(31);
    const int64_t rows = 32, cols = type == GGMLType::Q4_K ? 256 : 64, num_tokens = 300;
    Packed p = make_packed(type, rows, cols, rng);
    const std::vector<float> x =
        testing::random_floats(static_cast<size_t>(num_tokens * cols), rng, 2.0f);
    const std::string label = std::string(ggml_type_name(type)) + " row groups, 300 tokens";
    testing::expect_linear_batch_invariant(p.weight, x, num_tokens, label);

    const std::vector<float> bias = testing::random_floats(static_cast<size_t>(rows), rng);
    std::vector<float> plain(static_cast<size_t>(num_tokens * rows));
    std::vector<float> biased(plain.size());
    ops::linear(x, num_tokens, p.weight, {}, plain);
    ops::linear(x, num_tokens, p.weight, bias, biased);
    for (int64_t t = 0; t < num_tokens; ++t) {
      for (int64_t j = 0; j < rows; ++j) {
        ASSERT_EQ(biased[t * rows + j], plain[t * rows + j] + bias[j])
            << label << ", t=" << t << " j=" << j;
      }
    }
  }
}

// The VNNI path joins 16384 S1 + S23 of the stored codes in int32. Every code at its largest
// and activations equal to their block's maximum (q1 = 127) bring Q5_0's joined sum to 2.06e9,
// near int32's limit of 2.15e9. The scalar path sums signed codes, which stay far below, so
// both paths must agree.
TEST_F(RowGroupsTest, LargestCodesKeepExactSums) {
  struct Case {
    GGMLType type;
    int64_t block_bytes, codes_offset, cols;
  };
  const Case cases[] = {{GGMLType::Q4_0, 18, 2, 64},
                        {GGMLType::Q4_1, 20, 4, 64},
                        {GGMLType::Q5_0, 22, 2, 64},  // qh (4 bytes) and qs set to all ones
                        {GGMLType::Q4_K, 144, 16, 256}};
  for (const Case& c : cases) {
    std::mt19937 rng(31);
    const int64_t rows = 16;
    Packed p = make_packed(c.type, rows, c.cols, rng);
    std::vector<uint8_t> file = p.encoded.bytes;
    for (size_t block = 0; block < file.size(); block += static_cast<size_t>(c.block_bytes)) {
      std::fill(file.begin() + static_cast<std::ptrdiff_t>(block + c.codes_offset),
                file.begin() + static_cast<std::ptrdiff_t>(block + c.block_bytes), 0xFF);
    }
    const WeightMatrix row_layout{c.type, rows, c.cols, file.data()};
    ops::pack_row_groups(row_layout, p.bytes.data());

    // Three patterns, repeated over 18 tokens so that the AMX tile of 16 takes them too.
    const int64_t num_tokens = 18;
    std::vector<float> x(static_cast<size_t>(num_tokens * c.cols), 1.0f);
    for (int64_t t = 0; t < num_tokens; ++t) {
      for (int64_t k = 0; k < c.cols; ++k) {
        if (t % 3 == 1) x[t * c.cols + k] = -1.0f;
        if (t % 3 == 2) x[t * c.cols + k] = k % 2 == 0 ? 0.75f : -1.0f;
      }
    }

    std::vector<float> first_isa_y;
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> y(static_cast<size_t>(num_tokens * rows));
      ops::linear(x, num_tokens, p.weight, {}, y);
      testing::expect_same_as_first_isa(first_isa_y, y, isa, std::string(ggml_type_name(c.type)));
    }
  }
}

// Products of one input (q, k and v) give the bits of separate linear() calls: matrices of
// different types and heights in row groups, one with a bias, and one in the row layout.
TEST_F(RowGroupsTest, SharedInputEqualsSeparate) {
  std::mt19937 rng(37);
  const int64_t cols = 256, num_tokens = 19;
  Packed q = make_packed(GGMLType::Q4_K, 48, cols, rng);
  Packed k = make_packed(GGMLType::Q8_0, 16, cols, rng);
  Packed v = make_packed(GGMLType::Q4_1, 32, cols, rng);
  const Encoded row_layout = random_blocks(GGMLType::Q8_0, 24 * cols / 32, rng);
  const WeightMatrix o{GGMLType::Q8_0, 24, cols, row_layout.bytes.data()};
  const std::vector<float> bias = testing::random_floats(16, rng, 1.0f);
  const std::vector<float> x = testing::random_floats(num_tokens * cols, rng, 2.0f);
  const WeightMatrix* weights[] = {&q.weight, &k.weight, &o, &v.weight};
  for (CpuIsa isa : kAllIsas) {
    cpu::set_isa(isa);
    for (int threads : {1, 2, 3}) {
      set_num_threads(threads);
      std::vector<std::vector<float>> separate, shared;
      std::vector<ops::LinearProduct> products;
      for (const WeightMatrix* w : weights) {
        separate.emplace_back(static_cast<size_t>(num_tokens * w->rows));
        shared.emplace_back(static_cast<size_t>(num_tokens * w->rows));
      }
      for (size_t i = 0; i < std::size(weights); ++i) {
        std::span<const float> b;  // empty except for the second product
        if (i == 1) b = bias;
        ops::linear(x, num_tokens, *weights[i], b, separate[i]);
        products.push_back({weights[i], b, shared[i]});
      }
      ops::linear_shared_input(x, num_tokens, products);
      for (size_t i = 0; i < std::size(weights); ++i) {
        for (size_t e = 0; e < separate[i].size(); ++e) {
          ASSERT_EQ(shared[i][e], separate[i][e])
              << "product " << i << " element " << e << " on " << cpu::isa_name(isa)
              << " with " << threads << " threads";
        }
      }
    }
  }
}

// linear_max gives every output that may be its token's maximum the bits of linear(), both
// copies of a repeated row among them. Every other output gets its exact value or -inf. On
// AVX-512 VNNI at least a quarter of the outputs of random data get -inf.
TEST_F(RowGroupsTest, MaxKeepsLargestExact) {
  for (const int64_t cols : {int64_t{96}, int64_t{576}}) {
    std::mt19937 rng(41);
    // 8 spans of 256 rows and a partial one; an AMX tile of 16 tokens, then 4 and 1.
    const int64_t rows = 2064, num_tokens = 21;
    Encoded encoded = random_blocks(GGMLType::Q8_0, static_cast<int>(rows * cols / 32), rng);
    // Rows 1032 + r repeat rows r: every maximum is a tie.
    const size_t half = encoded.bytes.size() / 2;
    std::copy_n(encoded.bytes.begin(), half, encoded.bytes.begin() + static_cast<int64_t>(half));
    std::vector<uint8_t> packed;
    const WeightMatrix weight = pack_q8_0(encoded.bytes, rows, cols, packed);

    std::vector<float> x = testing::random_floats(static_cast<size_t>(num_tokens * cols), rng, 2.0f);
    x[3 * cols + 7] = std::numeric_limits<float>::quiet_NaN();  // token 3: every output NaN
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        std::vector<float> full(static_cast<size_t>(num_tokens * rows));
        std::vector<float> largest(full.size());
        ops::linear(x, num_tokens, weight, {}, full);
        ops::linear_max(x, num_tokens, weight, largest);
        for (int64_t t = 0; t < num_tokens; ++t) {
          const float* expected = full.data() + t * rows;
          const float* actual = largest.data() + t * rows;
          const std::string where = fmt::format("cols {} token {} on {} with {} threads", cols,
                                                t, cpu::isa_name(isa), threads);
          if (t == 3) {
            for (int64_t r = 0; r < rows; ++r) ASSERT_TRUE(std::isnan(actual[r])) << where;
            continue;
          }
          const float maximum = *std::max_element(expected, expected + rows);
          int64_t num_skipped = 0;
          for (int64_t r = 0; r < rows; ++r) {
            if (actual[r] == -std::numeric_limits<float>::infinity()) {
              ++num_skipped;
              ASSERT_LT(expected[r], maximum) << where << " row " << r;
            } else {
              ASSERT_EQ(actual[r], expected[r]) << where << " row " << r;
            }
          }
          const int64_t first = std::max_element(expected, expected + rows) - expected;
          ASSERT_LT(first, rows / 2) << where;
          EXPECT_EQ(actual[first + rows / 2], maximum) << where;
          if (cpu::active_isa() >= CpuIsa::kAvx512Vnni) EXPECT_GE(num_skipped, rows / 4) << where;
        }
      }
    }
  }
}

// A NaN weight scale makes one row NaN for every token. The full product's argmax picks it
// (a NaN wins, as in torch.argmax), so linear_max must keep it NaN.
TEST_F(RowGroupsTest, MaxKeepsNanRow) {
  constexpr int64_t rows = 512, cols = 64, kNanRow = 300;
  std::mt19937 rng(47);
  Encoded encoded = random_blocks(GGMLType::Q8_0, static_cast<int>(rows * cols / 32), rng);
  const uint16_t nan_half = 0x7E00;
  std::memcpy(encoded.bytes.data() + kNanRow * (cols / 32) * 34, &nan_half, 2);
  std::vector<uint8_t> packed;
  const WeightMatrix weight = pack_q8_0(encoded.bytes, rows, cols, packed);
  const int64_t num_tokens = 18;  // an AMX tile of 16 and a VNNI tile of 2
  const std::vector<float> x = testing::random_floats(num_tokens * cols, rng, 1.0f);
  for (CpuIsa isa : kAllIsas) {
    cpu::set_isa(isa);
    std::vector<float> largest(num_tokens * rows);
    ops::linear_max(x, num_tokens, weight, largest);
    for (int64_t t = 0; t < num_tokens; ++t) {
      EXPECT_TRUE(std::isnan(largest[t * rows + kNanRow])) << "token " << t << " on " << cpu::isa_name(isa);
    }
  }
}

// Two rows whose exact order the two-slice pass reverses. Row A gains 2 x 63 / 16384 of the
// activation scale d from activations that only the third slice represents. Row B gains
// 65 / 16384 of it from one whose second slice rounds up to 128 / 16384. Every other row is
// at most 0. The maximum (row A) must survive the first pass, which ranks B above A.
TEST_F(RowGroupsTest, MaxSurvivesReorderedApproximation) {
  constexpr int64_t rows = 640, cols = 96, kRowA = 10, kRowB = 400;
  constexpr uint16_t kHalfScale = 0x2000;  // 2^-7 as float16
  std::vector<uint8_t> bytes(static_cast<size_t>(rows * cols / 32 * 34), 0);
  std::mt19937 rng(43);
  std::uniform_int_distribution<int> small_code(-1, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < cols / 32; ++b) {
      uint8_t* block = bytes.data() + (r * cols / 32 + b) * 34;
      std::memcpy(block, &kHalfScale, 2);
      // Element 0 sets the activation scale and has code 0; elements 5 to 7 carry the test.
      for (int i = 5; i < 8; ++i) block[2 + i] = static_cast<uint8_t>(small_code(rng));
      if (b == 0 && r == kRowA) block[2 + 5] = block[2 + 6] = 1, block[2 + 7] = 0;
      if (b == 0 && r == kRowB) block[2 + 5] = block[2 + 6] = 0, block[2 + 7] = 1;
    }
  }
  std::vector<uint8_t> packed;
  const WeightMatrix weight = pack_q8_0(bytes, rows, cols, packed);

  std::vector<float> x(cols, 0.0f);
  x[0] = 10.0f;
  const float d = 10.0f / 127.0f;
  x[5] = x[6] = 63.0f * d / 16384.0f;  // q1 = q2 = 0, q3 = 63
  x[7] = 65.0f * d / 16384.0f;         // q1 = 0, q2 = 1, q3 = -63
  // The same token alone, and 17 times: an AMX tile of 16 and a VNNI tile of 1.
  for (const int64_t num_tokens : {int64_t{1}, int64_t{17}}) {
    std::vector<float> xs;
    for (int64_t t = 0; t < num_tokens; ++t) xs.insert(xs.end(), x.begin(), x.end());
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> full(num_tokens * rows), largest(num_tokens * rows);
      ops::linear(xs, num_tokens, weight, {}, full);
      ops::linear_max(xs, num_tokens, weight, largest);
      for (int64_t t = 0; t < num_tokens; ++t) {
        const float* f = full.data() + t * rows;
        const std::string where = fmt::format("token {} of {} on {}", t, num_tokens,
                                              cpu::isa_name(isa));
        ASSERT_EQ(std::max_element(f, f + rows) - f, kRowA) << where;
        ASSERT_GT(f[kRowA], f[kRowB]) << where;
        EXPECT_EQ(largest[t * rows + kRowA], f[kRowA]) << where;
      }
    }
  }
}

// A NaN or an infinity makes its token's outputs NaN and leaves the other tokens alone.
TEST_F(RowGroupsTest, NonFiniteActivationStaysInItsToken) {
  std::mt19937 rng(31);
  Packed p = make_packed(GGMLType::Q4_1, 16, 64, rng);
  std::vector<float> x = testing::random_floats(3 * 64, rng, 1.0f);
  x[64 + 40] = std::numeric_limits<float>::quiet_NaN();
  x[128 + 2] = std::numeric_limits<float>::infinity();
  for (CpuIsa isa : kAllIsas) {
    cpu::set_isa(isa);
    std::vector<float> y(3 * 16);
    ops::linear(x, 3, p.weight, {}, y);
    for (int64_t j = 0; j < 16; ++j) {
      EXPECT_TRUE(std::isfinite(y[j])) << "token 0 row " << j << " on " << cpu::isa_name(isa);
      EXPECT_TRUE(std::isnan(y[16 + j])) << "token 1 row " << j << " on " << cpu::isa_name(isa);
      EXPECT_TRUE(std::isnan(y[32 + j])) << "token 2 row " << j << " on " << cpu::isa_name(isa);
    }
  }
}

// The loader copies a GGUF matrix out of the mapping once, however often it is read (the
// tied embeddings are read as the embedding table and as the LM head), and the copied rows
// dequantize to the file's values.
TEST_F(RowGroupsTest, GgufTensorCopiedOnce) {
  VLLM_REQUIRE_TEST_MODEL(model_path);
  const auto gguf = GGUFFile::open(model_path);
  const auto pristine = GGUFFile::open(model_path);  // a second mapping, never copied
  const GGUFTensorInfo& info = gguf->tensor("token_embd.weight");
  const int64_t cols = info.shape[0], rows = info.shape[1];

  const WeightMatrix first = gguf_weight_matrix(*gguf, "token_embd.weight", rows, cols);
  const WeightMatrix second = gguf_weight_matrix(*gguf, "token_embd.weight", rows, cols);
  EXPECT_EQ(first.layout, second.layout);
  EXPECT_EQ(first.data, second.data);
  EXPECT_NE(first.data, gguf->tensor_data(info));

  const WeightMatrix file_rows{info.type, rows, cols, pristine->tensor_data(info)};
  if (!ops::prefers_row_groups(file_rows)) {
    EXPECT_EQ(first.layout, WeightLayout::kRows);
    GTEST_SKIP() << "this machine keeps " << ggml_type_name(info.type) << " rows in the file layout";
  }
  EXPECT_EQ(first.layout, WeightLayout::kRowGroups16);

  // A caller that cuts the matrix at rows that split a group gets a copy in the row layout.
  const WeightMatrix cut = gguf_weight_matrix(*gguf, "token_embd.weight", rows, cols, 8);
  EXPECT_EQ(cut.layout, WeightLayout::kRows);
  EXPECT_NE(cut.data, first.data);
  EXPECT_EQ(gguf_weight_matrix(*gguf, "token_embd.weight", rows, cols).data, first.data);

  for (int64_t row : {int64_t{0}, int64_t{17}, rows - 1}) {
    std::vector<float> expected(static_cast<size_t>(cols)), packed(static_cast<size_t>(cols));
    ops::dequantize_rows(file_rows, row, 1, expected);
    ops::dequantize_rows(second, row, 1, packed);
    ASSERT_EQ(packed, expected) << "row " << row;

    std::vector<float> from_cut(static_cast<size_t>(cols));
    ops::dequantize_rows(cut, row, 1, from_cut);
    ASSERT_EQ(from_cut, expected) << "row " << row;
  }
}

}  // namespace
}  // namespace vllm
