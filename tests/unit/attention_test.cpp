// Attention options (sliding window, logit soft cap) and rotary styles of the CPU kernels,
// each against a plain double-precision reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/ops.h"
#include "layers/rotary_embedding.h"
#include "models/model.h"

namespace vllm {
namespace {

constexpr int64_t kHeads = 4, kKvHeads = 2, kHeadDim = 16, kBlockSize = 4, kNumBlocks = 32;

std::vector<float> random_floats(size_t n, std::mt19937& rng, float scale = 1.0f) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> values(n);
  for (float& v : values) v = dist(rng);
  return values;
}

// One sequence's query, key and value at every position, and its shuffled blocks.
struct Sequence {
  int64_t len = 0;
  std::vector<float> q;  // [len, kHeads, kHeadDim]
  std::vector<float> k;  // [len, kKvHeads, kHeadDim]
  std::vector<float> v;  // [len, kKvHeads, kHeadDim]
  std::vector<int32_t> blocks;
};

Sequence make_sequence(int64_t len, uint32_t seed) {
  std::mt19937 rng(seed);
  Sequence s;
  s.len = len;
  s.q = random_floats(static_cast<size_t>(len * kHeads * kHeadDim), rng, 2.0f);
  s.k = random_floats(static_cast<size_t>(len * kKvHeads * kHeadDim), rng, 2.0f);
  s.v = random_floats(static_cast<size_t>(len * kKvHeads * kHeadDim), rng);
  std::vector<int32_t> ids(kNumBlocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  ids.resize(static_cast<size_t>((len + kBlockSize - 1) / kBlockSize));
  s.blocks = ids;
  return s;
}

struct Cache {
  std::vector<float> key = std::vector<float>(kNumBlocks * kBlockSize * kKvHeads * kHeadDim);
  std::vector<float> value = std::vector<float>(key.size());
  PagedKVCacheView view() {
    return {key.data(), value.data(), kNumBlocks, kBlockSize, kKvHeads, kHeadDim};
  }
};

// Writes positions [start, start + count) of `s` to the cache and attends from them.
std::vector<float> run_chunk(Cache& cache, const Sequence& s, int64_t start, int64_t count,
                             const AttentionOptions& options) {
  const int64_t hq = kHeads * kHeadDim, hkv = kKvHeads * kHeadDim;
  std::vector<float> q(s.q.begin() + start * hq, s.q.begin() + (start + count) * hq);
  std::vector<float> k(s.k.begin() + start * hkv, s.k.begin() + (start + count) * hkv);
  std::vector<float> v(s.v.begin() + start * hkv, s.v.begin() + (start + count) * hkv);
  std::vector<int64_t> slots;
  for (int64_t p = start; p < start + count; ++p)
    slots.push_back(s.blocks[p / kBlockSize] * kBlockSize + p % kBlockSize);
  std::vector<int32_t> query_start_loc = {0, static_cast<int32_t>(count)};
  std::vector<int32_t> seq_lens = {static_cast<int32_t>(start + count)};
  const PagedKVCacheView view = cache.view();
  ops::write_kv(k, v, slots, view);
  const AttentionMetadata metadata{query_start_loc, seq_lens, s.blocks,
                                   static_cast<int64_t>(s.blocks.size())};
  std::vector<float> out(q.size());
  ops::paged_attention(q, kHeads, view, metadata, options, out);
  return out;
}

// Softmax attention of position p over keys (p - window, p], scores soft-capped.
double reference(const Sequence& s, int64_t p, int64_t h, int64_t d,
                 const AttentionOptions& options) {
  const int64_t kvh = h / (kHeads / kKvHeads);
  const int64_t first = options.sliding_window > 0
                            ? std::max<int64_t>(0, p - options.sliding_window + 1)
                            : 0;
  std::vector<double> scores;
  for (int64_t j = first; j <= p; ++j) {
    double dot = 0;
    for (int64_t i = 0; i < kHeadDim; ++i)
      dot += double(s.q[(p * kHeads + h) * kHeadDim + i]) * s.k[(j * kKvHeads + kvh) * kHeadDim + i];
    double score = dot * options.scale;
    if (options.logits_soft_cap > 0)
      score = options.logits_soft_cap * std::tanh(score / options.logits_soft_cap);
    scores.push_back(score);
  }
  const double max = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (double& x : scores) sum += (x = std::exp(x - max));
  double out = 0;
  for (int64_t j = first; j <= p; ++j)
    out += scores[j - first] / sum * s.v[(j * kKvHeads + kvh) * kHeadDim + d];
  return out;
}

void expect_matches_reference(const Sequence& s, int64_t start, const std::vector<float>& out,
                              const AttentionOptions& options) {
  const int64_t count = static_cast<int64_t>(out.size()) / (kHeads * kHeadDim);
  for (int64_t t = 0; t < count; ++t)
    for (int64_t h = 0; h < kHeads; ++h)
      for (int64_t d = 0; d < kHeadDim; ++d)
        ASSERT_NEAR(out[(t * kHeads + h) * kHeadDim + d], reference(s, start + t, h, d, options),
                    2e-5)
            << "position " << start + t << " head " << h << " dim " << d;
}

TEST(AttentionOptions, SlidingWindowMatchesReference) {
  const Sequence s = make_sequence(29, 3);
  AttentionOptions options{0.25f, 6, 0.0f};
  Cache cache;
  expect_matches_reference(s, 0, run_chunk(cache, s, 0, 29, options), options);
}

// A window that is not a multiple of the block size, crossing block boundaries.
TEST(AttentionOptions, SlidingWindowOddSize) {
  const Sequence s = make_sequence(23, 5);
  AttentionOptions options{0.25f, 7, 0.0f};
  Cache cache;
  expect_matches_reference(s, 0, run_chunk(cache, s, 0, 23, options), options);
}

// Window larger than the context: the same as full attention.
TEST(AttentionOptions, WideWindowIsFullAttention) {
  const Sequence s = make_sequence(11, 7);
  Cache full_cache, window_cache;
  const std::vector<float> full = run_chunk(full_cache, s, 0, 11, AttentionOptions{0.25f});
  const std::vector<float> windowed =
      run_chunk(window_cache, s, 0, 11, AttentionOptions{0.25f, 64, 0.0f});
  EXPECT_EQ(full, windowed);
}

TEST(AttentionOptions, SoftCapMatchesReference) {
  const Sequence s = make_sequence(17, 9);
  // Scores reach about 10 with scale 1, so a cap of 3 changes them strongly.
  AttentionOptions options{1.0f, 0, 3.0f};
  Cache cache;
  expect_matches_reference(s, 0, run_chunk(cache, s, 0, 17, options), options);
}

TEST(AttentionOptions, WindowAndSoftCapTogether) {
  const Sequence s = make_sequence(26, 11);
  AttentionOptions options{0.5f, 5, 2.0f};
  Cache cache;
  expect_matches_reference(s, 0, run_chunk(cache, s, 0, 26, options), options);
}

// Chunked prefill and decode steps give the same bits as one whole-prompt step: the window is
// masked by absolute position, not by the chunk.
TEST(AttentionOptions, SlidingWindowChunkInvariant) {
  const Sequence s = make_sequence(31, 13);
  const AttentionOptions options{0.25f, 6, 4.0f};
  Cache whole_cache;
  const std::vector<float> whole = run_chunk(whole_cache, s, 0, 31, options);
  Cache chunk_cache;
  std::vector<float> chunked;
  int64_t start = 0;
  for (int64_t count : {3, 9, 1, 1, 5, 10, 1, 1}) {
    const std::vector<float> out = run_chunk(chunk_cache, s, start, count, options);
    chunked.insert(chunked.end(), out.begin(), out.end());
    start += count;
  }
  ASSERT_EQ(start, 31);
  EXPECT_EQ(chunked, whole);
}

TEST(AttentionOptions, RejectsNegativeWindow) {
  const Sequence s = make_sequence(4, 1);
  Cache cache;
  EXPECT_ANY_THROW(run_chunk(cache, s, 0, 4, AttentionOptions{1.0f, -1, 0.0f}));
}

// --- rotary styles ----------------------------------------------------------------------

// Rotates x by HF's formulas, with pairs (i, i + rotary_dim / 2) for rotate-half and
// (2i, 2i + 1) for adjacent pairs. Dimensions from rotary_dim on pass through.
std::vector<double> rotate_reference(const std::vector<float>& x, const std::vector<double>& angles,
                                     int64_t head_dim, int64_t rotary_dim, RotaryStyle style) {
  std::vector<double> out(x.begin(), x.end());
  const int64_t half = rotary_dim / 2;
  for (size_t head = 0; head < x.size() / head_dim; ++head) {
    const size_t base = head * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const size_t a = base + (style == RotaryStyle::kRotateHalf ? i : 2 * i);
      const size_t b = style == RotaryStyle::kRotateHalf ? a + half : a + 1;
      out[a] = x[a] * std::cos(angles[i]) - double(x[b]) * std::sin(angles[i]);
      out[b] = x[b] * std::cos(angles[i]) + double(x[a]) * std::sin(angles[i]);
    }
  }
  return out;
}

void check_rotary(RotaryStyle style, int64_t rotary_dim) {
  const int64_t head_dim = 16, num_heads = 3, num_kv_heads = 1;
  std::mt19937 rng(17);
  std::vector<float> q = random_floats(num_heads * head_dim, rng);
  std::vector<float> k = random_floats(num_kv_heads * head_dim, rng);
  std::vector<double> angles;
  std::vector<float> cos_sin;
  for (int64_t i = 0; i < rotary_dim / 2; ++i) {
    angles.push_back(0.37 * double(i + 1) - 1.1);
    cos_sin.push_back(static_cast<float>(std::cos(angles.back())));
    cos_sin.push_back(static_cast<float>(std::sin(angles.back())));
  }
  const std::vector<double> q_ref = rotate_reference(q, angles, head_dim, rotary_dim, style);
  const std::vector<double> k_ref = rotate_reference(k, angles, head_dim, rotary_dim, style);
  ops::rotary_embedding(Device::kCpu, cos_sin, q, k, num_heads, num_kv_heads, head_dim, style,
                        rotary_dim);
  for (size_t i = 0; i < q.size(); ++i) ASSERT_NEAR(q[i], q_ref[i], 1e-6) << "query " << i;
  for (size_t i = 0; i < k.size(); ++i) ASSERT_NEAR(k[i], k_ref[i], 1e-6) << "key " << i;
}

// Attention reads cache rows with 64-byte loads. Both caches (3.7 and 2 MB) are large enough
// that glibc's malloc would place them 16 bytes past a page boundary.
TEST(KVCacheLayout, BlocksStartOnCacheLines) {
  for (const auto [layers, blocks, kv_heads, head_dim] :
       {std::tuple<int64_t, int64_t, int64_t, int64_t>{3, 50, 3, 64}, {2, 97, 1, 80}}) {
    KVCache cache(layers, blocks, 16, kv_heads, head_dim);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(cache.key_cache(0)) % 4096, 0u);
    for (int64_t layer = 0; layer < layers; ++layer) {
      for (const float* base : {cache.key_cache(layer), cache.value_cache(layer)}) {
        EXPECT_EQ(reinterpret_cast<uintptr_t>(base) % 64, 0u) << "layer " << layer;
      }
    }
  }
}

TEST(RotaryStyles, RotateHalf) { check_rotary(RotaryStyle::kRotateHalf, 16); }
TEST(RotaryStyles, RotateHalfPartial) { check_rotary(RotaryStyle::kRotateHalf, 8); }
TEST(RotaryStyles, AdjacentPairsPartial) { check_rotary(RotaryStyle::kAdjacentPairs, 6); }

// --- rope scaling tables ------------------------------------------------------------------

// Angle of pair i at `position`: the atan2 of the (sin, cos) the layer writes.
double angle_of(const RotaryEmbedding& rope, int32_t position, int64_t pair, double* magnitude) {
  std::vector<float> cos_sin;
  const std::vector<int32_t> positions = {position};
  rope.compute_cos_sin(positions, cos_sin);
  const double c = cos_sin[2 * pair], s = cos_sin[2 * pair + 1];
  if (magnitude != nullptr) *magnitude = std::hypot(c, s);
  return std::atan2(s, c);
}

TEST(RopeScaling, LinearDividesFrequencies) {
  RopeScaling scaling;
  scaling.rope_type = "linear";
  scaling.factor = 4.0;
  const RotaryEmbedding plain(16, 10000.0);
  const RotaryEmbedding scaled(16, 10000.0, RotaryStyle::kRotateHalf, 0, scaling);
  // Position 8 scaled is position 2 unscaled.
  for (int64_t i = 0; i < 8; ++i)
    EXPECT_NEAR(angle_of(scaled, 8, i, nullptr), angle_of(plain, 2, i, nullptr), 1e-5) << i;
}

// Llama 3.1's three frequency bands, against the formula written out in double precision.
TEST(RopeScaling, Llama3Bands) {
  RopeScaling scaling;
  scaling.rope_type = "llama3";
  scaling.factor = 8.0;
  scaling.low_freq_factor = 1.0;
  scaling.high_freq_factor = 4.0;
  scaling.original_max_position_embeddings = 64;
  const int64_t head_dim = 16;
  const double theta = 500000.0;
  const RotaryEmbedding rope(head_dim, theta, RotaryStyle::kAdjacentPairs, 0, scaling);
  int bands[3] = {0, 0, 0};
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double inv_freq = 1.0 / std::pow(theta, double(2 * i) / head_dim);
    const double wavelen = 2 * std::numbers::pi / inv_freq;
    double expected;
    if (wavelen < 64.0 / 4.0) {
      expected = inv_freq;
      ++bands[0];
    } else if (wavelen > 64.0 / 1.0) {
      expected = inv_freq / 8.0;
      ++bands[2];
    } else {
      const double smooth = (64.0 / wavelen - 1.0) / (4.0 - 1.0);
      expected = (1 - smooth) * inv_freq / 8.0 + smooth * inv_freq;
      ++bands[1];
    }
    EXPECT_NEAR(angle_of(rope, 1, i, nullptr), expected, 1e-6 * std::max(1.0, expected)) << i;
  }
  EXPECT_GT(bands[0], 0);
  EXPECT_GT(bands[1], 0);
  EXPECT_GT(bands[2], 0);
}

TEST(RopeScaling, LongropeUsesLongFactorsAndAttentionFactor) {
  RopeScaling scaling;
  scaling.rope_type = "longrope";
  scaling.original_max_position_embeddings = 4;
  scaling.short_factor = {1.0, 1.0};
  scaling.long_factor = {2.0, 5.0};
  const RotaryEmbedding rope(8, 10000.0, RotaryStyle::kRotateHalf, 4, scaling, 256);
  const double expected_factor = std::sqrt(1.0 + std::log(64.0) / std::log(4.0));
  for (int64_t i = 0; i < 2; ++i) {
    double magnitude = 0;
    const double inv_freq = 1.0 / (scaling.long_factor[i] * std::pow(10000.0, double(2 * i) / 4));
    EXPECT_NEAR(angle_of(rope, 1, i, &magnitude), inv_freq, 1e-6) << i;
    EXPECT_NEAR(magnitude, expected_factor, 1e-5) << i;
  }
}

}  // namespace
}  // namespace vllm
