// The paged attention kernel on every instruction-set path, at cache geometries that take
// its different branches: 16-slot blocks and blocks of 4, 6, 10 and 24 slots. Among them are
// the AVX-512 path's tiles of 4 keys cut by a block's end and its softmax of blocks over 16
// slots. Head sizes are and are not multiples of 16, with 1, 3, 4 and 5 query heads per KV
// head (prompt tokens grouped 12, 4, 3 and 2 to an item). Each is compared with a
// double-precision softmax, and the chunked and batched results with the whole-prompt and
// single-sequence ones, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"
#include "kernels/ops.h"
#include "kernel_test_util.h"

namespace vllm {
namespace {

using cpu::CpuIsa;

struct Geometry {
  int64_t num_heads, num_kv_heads, head_dim, block_size;
};

const Geometry kGeometries[] = {
    {9, 3, 64, 16},  // SmolLM2's layout
    {5, 1, 40, 4},
    {2, 2, 24, 24},
    {10, 2, 130, 16},
    {8, 2, 80, 6},  // key tiles cut by the block's end, 3 tokens per item
    {3, 3, 16, 10},
};

const CpuIsa kIsas[] = {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512};

class AttentionIsaTest : public testing::KernelsFixture {};

struct Sequence {
  int64_t len = 0;
  std::vector<float> q;  // [len, num_heads, head_dim]
  std::vector<float> k;  // [len, num_kv_heads, head_dim]
  std::vector<float> v;  // [len, num_kv_heads, head_dim]
  std::vector<int32_t> blocks;
};

class PagedCache {
 public:
  PagedCache(const Geometry& g, int64_t num_blocks)
      : g_(g), num_blocks_(num_blocks),
        key_(static_cast<size_t>(num_blocks * g.block_size * g.num_kv_heads * g.head_dim)),
        value_(key_.size()) {}
  PagedKVCacheView view() {
    return {key_.data(), value_.data(), num_blocks_, g_.block_size, g_.num_kv_heads,
            g_.head_dim};
  }

 private:
  Geometry g_;
  int64_t num_blocks_;
  std::vector<float> key_, value_;  // [num_blocks, block_size, num_kv_heads, head_dim]
};

constexpr int64_t kNumBlocks = 64;

// Sequences with disjoint, shuffled blocks.
std::vector<Sequence> make_sequences(const Geometry& g, const std::vector<int64_t>& lengths) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  auto random = [&](int64_t n, float scale) {
    std::vector<float> values(static_cast<size_t>(n));
    for (float& x : values) x = scale * dist(rng);
    return values;
  };
  std::vector<int32_t> ids(kNumBlocks);
  std::iota(ids.begin(), ids.end(), 0);
  std::shuffle(ids.begin(), ids.end(), rng);
  // The first sequence starts on the cache's last block, so that a sanitizer build reports
  // a read past a block's end.
  std::swap(ids[0], *std::find(ids.begin(), ids.end(), kNumBlocks - 1));
  std::vector<Sequence> seqs;
  size_t next = 0;
  for (int64_t len : lengths) {
    Sequence s;
    s.len = len;
    s.q = random(len * g.num_heads * g.head_dim, 0.5f);
    s.k = random(len * g.num_kv_heads * g.head_dim, 0.5f);
    s.v = random(len * g.num_kv_heads * g.head_dim, 1.0f);
    for (int64_t b = 0; b < (len + g.block_size - 1) / g.block_size; ++b) {
      s.blocks.push_back(ids.at(next++));
    }
    seqs.push_back(std::move(s));
  }
  return seqs;
}

struct Chunk {
  const Sequence* seq;
  int64_t start, count;
};

// One step: writes each chunk's keys and values, then attends from its tokens.
std::vector<float> run_step(const Geometry& g, PagedCache& cache,
                            const std::vector<Chunk>& chunks, const AttentionOptions& options) {
  const int64_t hq = g.num_heads * g.head_dim, hkv = g.num_kv_heads * g.head_dim;
  std::vector<float> q, k, v;
  std::vector<int64_t> slots;
  std::vector<int32_t> query_start_loc = {0}, seq_lens, block_tables;
  int64_t max_blocks = 0;
  for (const Chunk& c : chunks) {
    max_blocks = std::max<int64_t>(max_blocks, static_cast<int64_t>(c.seq->blocks.size()));
  }
  for (const Chunk& c : chunks) {
    const Sequence& s = *c.seq;
    q.insert(q.end(), s.q.begin() + c.start * hq, s.q.begin() + (c.start + c.count) * hq);
    k.insert(k.end(), s.k.begin() + c.start * hkv, s.k.begin() + (c.start + c.count) * hkv);
    v.insert(v.end(), s.v.begin() + c.start * hkv, s.v.begin() + (c.start + c.count) * hkv);
    for (int64_t p = c.start; p < c.start + c.count; ++p) {
      slots.push_back(s.blocks[p / g.block_size] * g.block_size + p % g.block_size);
    }
    query_start_loc.push_back(static_cast<int32_t>(query_start_loc.back() + c.count));
    seq_lens.push_back(static_cast<int32_t>(c.start + c.count));
    std::vector<int32_t> row(static_cast<size_t>(max_blocks), 0);
    std::copy(s.blocks.begin(), s.blocks.end(), row.begin());
    block_tables.insert(block_tables.end(), row.begin(), row.end());
  }
  const PagedKVCacheView view = cache.view();
  ops::write_kv(k, v, slots, view);
  const AttentionMetadata metadata{query_start_loc, seq_lens, block_tables, max_blocks};
  std::vector<float> out(q.size());  // [num_tokens, num_heads, head_dim]
  ops::paged_attention(q, g.num_heads, view, metadata, options, out);
  return out;
}

// Softmax attention of position p of `s`, head h, dimension d, in double precision.
double reference(const Geometry& g, const Sequence& s, int64_t p, int64_t h, int64_t d,
                 const AttentionOptions& options) {
  const int64_t kvh = h / (g.num_heads / g.num_kv_heads);
  const int64_t first =
      options.sliding_window > 0 ? std::max<int64_t>(0, p - options.sliding_window + 1) : 0;
  std::vector<double> scores;
  for (int64_t j = first; j <= p; ++j) {
    double dot = 0;
    for (int64_t i = 0; i < g.head_dim; ++i) {
      dot += double(s.q[(p * g.num_heads + h) * g.head_dim + i]) *
             s.k[(j * g.num_kv_heads + kvh) * g.head_dim + i];
    }
    double score = dot * options.scale;
    if (options.logits_soft_cap > 0) {
      score = options.logits_soft_cap * std::tanh(score / options.logits_soft_cap);
    }
    scores.push_back(score);
  }
  const double max = *std::max_element(scores.begin(), scores.end());
  double sum = 0;
  for (double& x : scores) sum += (x = std::exp(x - max));
  double out = 0;
  for (int64_t j = first; j <= p; ++j) {
    out += scores[j - first] / sum * s.v[(j * g.num_kv_heads + kvh) * g.head_dim + d];
  }
  return out;
}

std::vector<AttentionOptions> options_for(const Geometry& g) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(g.head_dim));
  return {{scale, 0, 0.0f}, {scale, 21, 0.0f}, {scale, 0, 2.5f}};
}

TEST_F(AttentionIsaTest, MatchesReference) {
  for (CpuIsa isa : kIsas) {
    cpu::set_isa(isa);
    for (const Geometry& g : kGeometries) {
      for (const AttentionOptions& options : options_for(g)) {
        const std::vector<Sequence> seqs = make_sequences(g, {53});
        PagedCache cache(g, kNumBlocks);
        const std::vector<float> out = run_step(g, cache, {{&seqs[0], 0, 53}}, options);
        for (int64_t p = 0; p < 53; ++p) {
          for (int64_t h = 0; h < g.num_heads; ++h) {
            for (int64_t d = 0; d < g.head_dim; d += 7) {
              ASSERT_NEAR(out[(p * g.num_heads + h) * g.head_dim + d],
                          reference(g, seqs[0], p, h, d, options), 2e-5)
                  << cpu::isa_name(cpu::active_isa()) << " head_dim " << g.head_dim
                  << " block " << g.block_size << " window " << options.sliding_window
                  << " cap " << options.logits_soft_cap << " position " << p << " head " << h;
            }
          }
        }
      }
    }
  }
}

TEST_F(AttentionIsaTest, ChunkedEqualsWhole) {
  for (CpuIsa isa : kIsas) {
    cpu::set_isa(isa);
    for (const Geometry& g : kGeometries) {
      for (const AttentionOptions& options : options_for(g)) {
        const std::vector<Sequence> seqs = make_sequences(g, {61});
        PagedCache whole_cache(g, kNumBlocks);
        const std::vector<float> whole = run_step(g, whole_cache, {{&seqs[0], 0, 61}}, options);
        PagedCache chunk_cache(g, kNumBlocks);
        std::vector<float> chunked;
        int64_t start = 0;
        for (int64_t count : {17, 1, 30, 13}) {
          const std::vector<float> out =
              run_step(g, chunk_cache, {{&seqs[0], start, count}}, options);
          chunked.insert(chunked.end(), out.begin(), out.end());
          start += count;
        }
        ASSERT_EQ(chunked.size(), whole.size());
        for (size_t i = 0; i < whole.size(); ++i) {
          ASSERT_EQ(chunked[i], whole[i]) << cpu::isa_name(cpu::active_isa()) << " head_dim "
                                          << g.head_dim << " element " << i;
        }
      }
    }
  }
}

TEST_F(AttentionIsaTest, BatchedEqualsAlone) {
  for (CpuIsa isa : kIsas) {
    cpu::set_isa(isa);
    for (const Geometry& g : kGeometries) {
      const AttentionOptions options = options_for(g)[1];
      const std::vector<Sequence> seqs = make_sequences(g, {45, 19});
      PagedCache alone_cache(g, kNumBlocks);
      const std::vector<float> alone = run_step(g, alone_cache, {{&seqs[1], 0, 19}}, options);
      for (int threads : {1, 2, 3}) {
        set_num_threads(threads);
        PagedCache batch_cache(g, kNumBlocks);
        const std::vector<float> batched =
            run_step(g, batch_cache, {{&seqs[0], 0, 45}, {&seqs[1], 0, 19}}, options);
        const size_t offset = static_cast<size_t>(45 * g.num_heads * g.head_dim);
        for (size_t i = 0; i < alone.size(); ++i) {
          ASSERT_EQ(batched[offset + i], alone[i])
              << cpu::isa_name(cpu::active_isa()) << " head_dim " << g.head_dim
              << " threads " << threads << " element " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace vllm
