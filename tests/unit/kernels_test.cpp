// CPU kernels against plain scalar references written from the format descriptions, plus the
// determinism promises: bit-identical results across batch size, thread count and chunking.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "core/errors.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"
#include "kernel_test_util.h"

namespace vllm {
namespace {

using cpu::CpuIsa;

using testing::Encoded;
using testing::kAllIsas;
using testing::put_u16;
using testing::random_blocks;
using testing::random_floats;
using testing::random_scale;
using testing::reference_half;

// Restores the kernels' settings after each test.
class KernelsTest : public testing::KernelsFixture {};

const GGMLType kAllTypes[] = {GGMLType::F32,  GGMLType::F16,  GGMLType::BF16, GGMLType::Q4_0,
                              GGMLType::Q4_1, GGMLType::Q5_0, GGMLType::Q5_1, GGMLType::Q8_0};

TEST_F(KernelsTest, DequantizeMatchesReference) {
  for (GGMLType type : kAllTypes) {
    std::mt19937 rng(1234);
    const int num_blocks = 9;
    Encoded e = random_blocks(type, num_blocks, rng);
    WeightMatrix w{type, 3, 3 * 32, e.bytes.data()};
    ASSERT_EQ(static_cast<size_t>(w.rows * w.row_bytes()), e.bytes.size()) << ggml_type_name(type);
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> out(e.values.size());
      ops::dequantize_rows(w, 0, 3, out);
      for (size_t i = 0; i < out.size(); ++i) {
        // Every format's value is exact in double and rounds once to float.
        ASSERT_EQ(out[i], static_cast<float>(e.values[i]))
            << ggml_type_name(type) << " element " << i << " on " << cpu::isa_name(isa);
      }
    }
  }
}

TEST_F(KernelsTest, DequantizeRowsOffset) {
  std::mt19937 rng(7);
  Encoded e = random_blocks(GGMLType::Q4_1, 6, rng);
  WeightMatrix w{GGMLType::Q4_1, 3, 64, e.bytes.data()};
  std::vector<float> out(64);
  ops::dequantize_rows(w, 2, 1, out);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(out[i], static_cast<float>(e.values[128 + i]));
}

struct LinearCase {
  GGMLType type;
  int64_t rows;
  int64_t cols;
};

TEST_F(KernelsTest, LinearMatchesDoubleReference) {
  // cols of 40 leaves a partial vector for every ISA; 37 rows leave partial tiles.
  const LinearCase cases[] = {{GGMLType::F32, 37, 40},  {GGMLType::F16, 19, 64},
                              {GGMLType::BF16, 19, 96},
                              {GGMLType::Q4_0, 37, 96}, {GGMLType::Q4_1, 37, 96},
                              {GGMLType::Q5_0, 5, 64},  {GGMLType::Q5_1, 5, 64},
                              {GGMLType::Q8_0, 21, 128}};
  for (const LinearCase& c : cases) {
    std::mt19937 rng(99);
    Encoded e;
    if (c.type == GGMLType::F32) {
      // Rows of 40 floats are not whole 32-element test blocks, so encode them directly.
      for (int64_t i = 0; i < c.rows * c.cols; ++i) {
        const float f = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
        uint8_t raw[4];
        std::memcpy(raw, &f, 4);
        e.bytes.insert(e.bytes.end(), raw, raw + 4);
        e.values.push_back(f);
      }
    } else {
      e = random_blocks(c.type, static_cast<int>(c.rows * c.cols / 32), rng);
    }
    WeightMatrix w{c.type, c.rows, c.cols, e.bytes.data()};
    const int64_t num_tokens = 6;
    std::vector<float> x = random_floats(static_cast<size_t>(num_tokens * c.cols), rng);
    std::vector<float> bias = random_floats(static_cast<size_t>(c.rows), rng);
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> y(static_cast<size_t>(num_tokens * c.rows));
      ops::linear(x, num_tokens, w, bias, y);
      for (int64_t t = 0; t < num_tokens; ++t) {
        for (int64_t j = 0; j < c.rows; ++j) {
          double ref = bias[j], magnitude = std::abs(bias[j]);
          for (int64_t k = 0; k < c.cols; ++k) {
            ref += static_cast<double>(x[t * c.cols + k]) * e.values[j * c.cols + k];
            magnitude += std::abs(x[t * c.cols + k] * e.values[j * c.cols + k]);
          }
          ASSERT_NEAR(y[t * c.rows + j], ref, 1e-6 * magnitude + 1e-30)
              << ggml_type_name(c.type) << " t=" << t << " j=" << j << " on "
              << cpu::isa_name(isa);
        }
      }
    }
  }
}

TEST_F(KernelsTest, LinearBatchInvariant) {
  // A single token takes the fused path where one exists; batches use the scratch tiles.
  // With activation quantization on, Q4_0, Q4_1 and Q8_0 take the int8 kernels.
  for (bool quant : {false, true}) {
    cpu::set_activation_quant(quant);
    for (GGMLType type :
         {GGMLType::Q4_0, GGMLType::Q4_1, GGMLType::Q8_0, GGMLType::F16, GGMLType::BF16}) {
      std::mt19937 rng(5);
      const int64_t rows = 70, cols = 160, num_tokens = 7;
      Encoded e = random_blocks(type, static_cast<int>(rows * cols / 32), rng);
      WeightMatrix w{type, rows, cols, e.bytes.data()};
      std::vector<float> x = random_floats(static_cast<size_t>(num_tokens * cols), rng);
      testing::expect_linear_batch_invariant(
          w, x, num_tokens,
          std::string(ggml_type_name(type)) + (quant ? " int8 activations" : ""));
    }
  }
}

// Quantizes x to int8 per 32 values by the rule the int8 kernels document (ggml's Q8_0):
// d = max|x| / 127 and q = round-half-even(x * (1 / d)). Returns d * q in double.
std::vector<double> reference_quantize(const std::vector<float>& x) {
  std::vector<double> out(x.size());
  for (size_t b = 0; b < x.size(); b += 32) {
    float amax = 0.0f;
    for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.0f;
    const float inverse = d != 0.0f ? 1.0f / d : 0.0f;
    for (size_t i = b; i < b + 32; ++i) {
      const double q = std::nearbyint(x[i] * inverse);
      EXPECT_LE(std::fabs(q), 127.0) << "element " << i;
      out[i] = d * q;
    }
  }
  return out;
}

TEST_F(KernelsTest, LinearInt8MatchesReference) {
  // One row, a partial row tile (37), and a long row (4096 values); 6 tokens leave a
  // partial token tile.
  const LinearCase cases[] = {{GGMLType::Q4_0, 37, 96},  {GGMLType::Q4_1, 37, 96},
                              {GGMLType::Q8_0, 37, 96},  {GGMLType::Q4_1, 1, 64},
                              {GGMLType::Q4_0, 5, 4096}, {GGMLType::Q8_0, 3, 4096},
                              {GGMLType::Q4_1, 3, 4096}};
  cpu::set_activation_quant(true);
  for (const LinearCase& c : cases) {
    std::mt19937 rng(17);
    Encoded e = random_blocks(c.type, static_cast<int>(c.rows * c.cols / 32), rng);
    WeightMatrix w{c.type, c.rows, c.cols, e.bytes.data()};
    const int64_t num_tokens = 6;
    std::vector<float> x = random_floats(static_cast<size_t>(num_tokens * c.cols), rng, 2.0f);
    x[3] = 0.0f;
    std::fill(x.begin() + 32, x.begin() + 64, 0.0f);  // an all-zero block: d = 0
    const std::vector<double> xq = reference_quantize(x);
    std::vector<float> bias = random_floats(static_cast<size_t>(c.rows), rng);

    std::vector<float> first_isa_y;
    for (CpuIsa isa : kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> y(static_cast<size_t>(num_tokens * c.rows));
      ops::linear(x, num_tokens, w, bias, y);
      for (int64_t t = 0; t < num_tokens; ++t) {
        for (int64_t j = 0; j < c.rows; ++j) {
          double ref = bias[j], magnitude = std::abs(bias[j]);
          for (int64_t k = 0; k < c.cols; ++k) {
            ref += xq[t * c.cols + k] * e.values[j * c.cols + k];
            magnitude += std::abs(xq[t * c.cols + k] * e.values[j * c.cols + k]);
          }
          ASSERT_NEAR(y[t * c.rows + j], ref, 2e-6 * magnitude + 1e-30)
              << ggml_type_name(c.type) << " " << c.rows << "x" << c.cols << " t=" << t
              << " j=" << j << " on " << cpu::isa_name(isa);
        }
      }
      // The lane sums are exact and the float steps the same on every path.
      testing::expect_same_as_first_isa(first_isa_y, y, isa, std::string(ggml_type_name(c.type)));
    }
  }
}

TEST_F(KernelsTest, LinearInt8ErrorBounded) {
  // Against the unquantized product, the error is at most half a quantization step per
  // activation: sum over k of |w[k]| * d(block of k) / 2.
  std::mt19937 rng(23);
  const int64_t rows = 9, cols = 256;
  Encoded e = random_blocks(GGMLType::Q4_1, static_cast<int>(rows * cols / 32), rng);
  WeightMatrix w{GGMLType::Q4_1, rows, cols, e.bytes.data()};
  std::vector<float> x = random_floats(static_cast<size_t>(cols), rng, 3.0f);
  cpu::set_activation_quant(true);
  std::vector<float> y(static_cast<size_t>(rows));
  ops::linear(x, 1, w, {}, y);
  for (int64_t j = 0; j < rows; ++j) {
    double exact = 0, bound = 0;
    for (int64_t b = 0; b < cols / 32; ++b) {
      float amax = 0.0f;
      for (int64_t k = 32 * b; k < 32 * b + 32; ++k) amax = std::max(amax, std::fabs(x[k]));
      for (int64_t k = 32 * b; k < 32 * b + 32; ++k) {
        exact += static_cast<double>(x[k]) * e.values[j * cols + k];
        bound += std::abs(e.values[j * cols + k]) * (amax / 127.0) * 0.5;
      }
    }
    EXPECT_NEAR(y[j], exact, bound * 1.0001) << "row " << j;
  }
}

TEST_F(KernelsTest, EmbeddingGathersRows) {
  std::mt19937 rng(3);
  Encoded e = random_blocks(GGMLType::Q8_0, 10, rng);
  WeightMatrix table{GGMLType::Q8_0, 5, 64, e.bytes.data()};
  const std::vector<int32_t> ids = {4, 0, 4};
  std::vector<float> out(3 * 64);
  ops::embedding(table, ids, out);
  for (int t = 0; t < 3; ++t)
    for (int k = 0; k < 64; ++k)
      ASSERT_EQ(out[t * 64 + k], static_cast<float>(e.values[ids[t] * 64 + k]));
  const std::vector<int32_t> bad = {5};
  std::vector<float> one(64);
  EXPECT_THROW(ops::embedding(table, bad, one), InvalidArgument);
}

TEST_F(KernelsTest, RmsNormMatchesReference) {
  std::mt19937 rng(11);
  const int64_t hidden = 48, num_tokens = 3;
  std::vector<float> x = random_floats(static_cast<size_t>(hidden * num_tokens), rng, 3.0f);
  std::vector<float> weight = random_floats(static_cast<size_t>(hidden), rng);
  std::vector<float> out(x.size());
  ops::rms_norm(Device::kCpu, x, weight, 1e-5, out);
  for (int64_t t = 0; t < num_tokens; ++t) {
    double sum = 0;
    for (int64_t k = 0; k < hidden; ++k) sum += double(x[t * hidden + k]) * x[t * hidden + k];
    const double inv = 1.0 / std::sqrt(sum / hidden + 1e-5);
    for (int64_t k = 0; k < hidden; ++k)
      ASSERT_NEAR(out[t * hidden + k], x[t * hidden + k] * inv * weight[k], 1e-5);
  }
}

// The sum of squares runs in 16 double lanes and a fixed tree on every path, so each
// instruction set gives the same bits, at widths that do and do not fill the vectors.
TEST_F(KernelsTest, RmsNormSameOnEveryIsa) {
  std::mt19937 rng(17);
  for (int64_t hidden : {1, 17, 48, 640, 1001}) {
    std::vector<float> x = random_floats(static_cast<size_t>(hidden * 2), rng, 3.0f);
    std::vector<float> weight = random_floats(static_cast<size_t>(hidden), rng);
    std::vector<float> first;
    for (cpu::CpuIsa isa : testing::kAllIsas) {
      cpu::set_isa(isa);
      std::vector<float> out(x.size());
      ops::rms_norm(Device::kCpu, x, weight, 1e-6, out);
      if (first.empty()) first = out;
      for (size_t i = 0; i < out.size(); ++i) {
        ASSERT_EQ(out[i], first[i])
            << cpu::isa_name(isa) << " hidden " << hidden << " element " << i;
      }
    }
  }
}

TEST_F(KernelsTest, RopeRotatesAdjacentPairs) {
  std::mt19937 rng(13);
  const int64_t head_dim = 8, num_heads = 2, num_kv_heads = 1, num_tokens = 2;
  std::vector<float> q = random_floats(static_cast<size_t>(num_tokens * num_heads * head_dim), rng);
  std::vector<float> k = random_floats(static_cast<size_t>(num_tokens * num_kv_heads * head_dim), rng);
  std::vector<double> angles = {0.3, -1.2, 2.0, 0.01, 1.5, 0.7, -0.4, 3.0};  // [tokens, pairs]
  std::vector<float> cos_sin;
  for (double a : angles) {
    cos_sin.push_back(static_cast<float>(std::cos(a)));
    cos_sin.push_back(static_cast<float>(std::sin(a)));
  }
  std::vector<float> q_out = q, k_out = k;
  ops::rotary_embedding(Device::kCpu, cos_sin, q_out, k_out, num_heads, num_kv_heads, head_dim);
  auto check = [&](const std::vector<float>& in, const std::vector<float>& out, int64_t heads) {
    for (int64_t t = 0; t < num_tokens; ++t)
      for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < head_dim / 2; ++i) {
          const double a = angles[t * head_dim / 2 + i];
          const size_t base = static_cast<size_t>((t * heads + h) * head_dim + 2 * i);
          const double x0 = in[base], x1 = in[base + 1];
          ASSERT_NEAR(out[base], x0 * std::cos(a) - x1 * std::sin(a), 1e-6);
          ASSERT_NEAR(out[base + 1], x0 * std::sin(a) + x1 * std::cos(a), 1e-6);
        }
  };
  check(q, q_out, num_heads);
  check(k, k_out, num_kv_heads);
}

TEST_F(KernelsTest, SiluAndMulMatchesReference) {
  std::mt19937 rng(17);
  std::vector<float> gate = random_floats(50, rng, 6.0f), up = random_floats(50, rng);
  std::vector<float> out(50);
  ops::silu_and_mul(Device::kCpu, gate, up, out);
  for (int i = 0; i < 50; ++i)
    ASSERT_NEAR(out[i], gate[i] / (1.0 + std::exp(-double(gate[i]))) * up[i], 1e-6);
}

TEST_F(KernelsTest, CudaIsUnsupported) {
  std::vector<float> x(4), w(4, 1.0f);
  EXPECT_THROW(ops::rms_norm(Device::kCuda, x, w, 1e-5, x), InvalidArgument);
}

// --- paged attention ---------------------------------------------------------------------

constexpr int64_t kHeads = 4, kKvHeads = 2, kHeadDim = 40, kBlockSize = 4, kNumBlocks = 24;

// Per-sequence random tokens: query, key and value of every context position.
struct SeqData {
  int64_t len;
  std::vector<float> q;  // [len, kHeads, kHeadDim]
  std::vector<float> k;  // [len, kKvHeads, kHeadDim]
  std::vector<float> v;  // [len, kKvHeads, kHeadDim]
  std::vector<int32_t> blocks;
};

struct Cache {
  std::vector<float> key = std::vector<float>(kNumBlocks * kBlockSize * kKvHeads * kHeadDim);
  std::vector<float> value = std::vector<float>(key.size());
  PagedKVCacheView view() {
    return {key.data(), value.data(), kNumBlocks, kBlockSize, kKvHeads, kHeadDim};
  }
};

// One step's batch: chunks[s] = (first new position, number of new tokens) of sequence s.
std::vector<float> run_step(Cache& cache, const std::vector<const SeqData*>& seqs,
                            const std::vector<std::pair<int64_t, int64_t>>& chunks) {
  std::vector<float> q, k, v;
  std::vector<int64_t> slots;
  std::vector<int32_t> query_start_loc = {0}, seq_lens, block_tables;
  int64_t max_blocks = 0;
  for (auto* s : seqs) max_blocks = std::max<int64_t>(max_blocks, s->blocks.size());
  const int64_t hq = kHeads * kHeadDim, hkv = kKvHeads * kHeadDim;
  for (size_t i = 0; i < seqs.size(); ++i) {
    const SeqData& s = *seqs[i];
    auto [start, count] = chunks[i];
    q.insert(q.end(), s.q.begin() + start * hq, s.q.begin() + (start + count) * hq);
    k.insert(k.end(), s.k.begin() + start * hkv, s.k.begin() + (start + count) * hkv);
    v.insert(v.end(), s.v.begin() + start * hkv, s.v.begin() + (start + count) * hkv);
    for (int64_t p = start; p < start + count; ++p)
      slots.push_back(s.blocks[p / kBlockSize] * kBlockSize + p % kBlockSize);
    query_start_loc.push_back(static_cast<int32_t>(query_start_loc.back() + count));
    seq_lens.push_back(static_cast<int32_t>(start + count));
    std::vector<int32_t> row(static_cast<size_t>(max_blocks), 0);
    std::copy(s.blocks.begin(), s.blocks.end(), row.begin());
    block_tables.insert(block_tables.end(), row.begin(), row.end());
  }
  PagedKVCacheView view = cache.view();
  ops::write_kv(k, v, slots, view);
  std::vector<float> out(q.size());
  AttentionMetadata metadata{query_start_loc, seq_lens, block_tables, max_blocks};
  ops::paged_attention(q, kHeads, view, metadata,
                       AttentionOptions{1.0f / std::sqrt(float(kHeadDim))}, out);
  return out;
}

// Two sequences with interleaved, shuffled block ids.
std::vector<SeqData> make_sequences() {
  std::mt19937 rng(21);
  std::vector<int32_t> ids(kNumBlocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  std::vector<SeqData> seqs;
  size_t next_block = 0;
  for (int64_t len : {37, 13}) {
    SeqData s;
    s.len = len;
    s.q = random_floats(static_cast<size_t>(len * kHeads * kHeadDim), rng, 2.0f);
    s.k = random_floats(static_cast<size_t>(len * kKvHeads * kHeadDim), rng, 2.0f);
    s.v = random_floats(static_cast<size_t>(len * kKvHeads * kHeadDim), rng);
    for (int64_t b = 0; b < (len + kBlockSize - 1) / kBlockSize; ++b) s.blocks.push_back(ids[next_block++]);
    seqs.push_back(std::move(s));
  }
  return seqs;
}

TEST_F(KernelsTest, AttentionMatchesNaiveSoftmax) {
  std::vector<SeqData> seqs = make_sequences();
  Cache cache;
  // Sequence 0: a 30-token prefix first, then the last 7 tokens with sequence 1's prompt.
  run_step(cache, {&seqs[0]}, {{0, 30}});
  std::vector<float> out = run_step(cache, {&seqs[0], &seqs[1]}, {{30, 7}, {0, 13}});
  const double scale = 1.0 / std::sqrt(double(kHeadDim));
  size_t row = 0;
  for (auto [seq, start] : {std::pair{0, 30}, std::pair{1, 0}}) {
    const SeqData& s = seqs[seq];
    for (int64_t p = start; p < s.len; ++p, ++row) {
      for (int64_t h = 0; h < kHeads; ++h) {
        const int64_t kvh = h / (kHeads / kKvHeads);
        std::vector<double> scores(static_cast<size_t>(p + 1));
        for (int64_t j = 0; j <= p; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < kHeadDim; ++d)
            dot += double(s.q[(p * kHeads + h) * kHeadDim + d]) * s.k[(j * kKvHeads + kvh) * kHeadDim + d];
          scores[j] = dot * scale;
        }
        const double max = *std::max_element(scores.begin(), scores.end());
        double sum = 0;
        for (double& x : scores) sum += (x = std::exp(x - max));
        for (int64_t d = 0; d < kHeadDim; ++d) {
          double ref = 0;
          for (int64_t j = 0; j <= p; ++j) ref += scores[j] / sum * s.v[(j * kKvHeads + kvh) * kHeadDim + d];
          ASSERT_NEAR(out[(row * kHeads + h) * kHeadDim + d], ref, 1e-5)
              << "seq " << seq << " pos " << p << " head " << h << " dim " << d;
        }
      }
    }
  }
}

TEST_F(KernelsTest, AttentionChunkInvariant) {
  std::vector<SeqData> seqs = make_sequences();
  const int64_t hq = kHeads * kHeadDim;
  Cache whole_cache;
  std::vector<float> whole = run_step(whole_cache, {&seqs[0]}, {{0, 37}});
  Cache chunk_cache;
  std::vector<float> chunked;
  int64_t start = 0;
  for (int64_t count : {10, 1, 16, 3, 7}) {
    std::vector<float> out = run_step(chunk_cache, {&seqs[0]}, {{start, count}});
    chunked.insert(chunked.end(), out.begin(), out.end());
    start += count;
  }
  ASSERT_EQ(start, 37);
  ASSERT_EQ(chunked.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i)
    ASSERT_EQ(chunked[i], whole[i]) << "token " << i / hq;
}

TEST_F(KernelsTest, AttentionBatchInvariant) {
  std::vector<SeqData> seqs = make_sequences();
  Cache alone_cache;
  std::vector<float> alone = run_step(alone_cache, {&seqs[1]}, {{0, 13}});
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    Cache batch_cache;
    std::vector<float> batched = run_step(batch_cache, {&seqs[0], &seqs[1]}, {{0, 37}, {0, 13}});
    const size_t offset = 37 * kHeads * kHeadDim;
    for (size_t i = 0; i < alone.size(); ++i)
      ASSERT_EQ(batched[offset + i], alone[i]) << "element " << i << " threads " << threads;
  }
}

TEST_F(KernelsTest, AttentionRejectsBadBlock) {
  Cache cache;
  std::vector<float> q(kHeads * kHeadDim), out(q.size());
  std::vector<int32_t> qsl = {0, 1}, lens = {1}, tables = {kNumBlocks};
  AttentionMetadata metadata{qsl, lens, tables, 1};
  EXPECT_THROW(ops::paged_attention(q, kHeads, cache.view(), metadata, AttentionOptions{}, out), InternalError);
}

}  // namespace
}  // namespace vllm
