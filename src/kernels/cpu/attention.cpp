// Paged attention and KV cache writes on the CPU.
//
// One work item is (new token, KV head): the query heads that share the KV head walk the
// token's context together, one cache block at a time, so each key and value row is read
// once for all of them. Per query head the walk is an online softmax: the block's scores
// (dot_tile, whose bits do not depend on how many heads or keys a call covers), then the
// running max, the rescale of the running sum and output, and the weighted values (one
// fused multiply-add per element, in key order, on every instruction set). No [query,
// context] score matrix is ever built. A query head's operations depend only on its context
// length and the cached K/V, so a token gets the same bits however its prompt was chunked,
// whatever else is in the batch and however the items are spread over threads. A sliding
// window starts the walk at the block of the first key in the window.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <immintrin.h>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/vector_math.h"

namespace vllm::cpu {

void write_kv(const float* key, const float* value, const int64_t* slot_mapping,
              int64_t num_tokens, const PagedKVCacheView& cache) {
  const int64_t head_dim = cache.head_dim;
  const auto head_bytes = static_cast<size_t>(head_dim) * sizeof(float);
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0) continue;
    const int64_t block = slot / cache.block_size;
    const int64_t offset = slot % cache.block_size;
    for (int64_t h = 0; h < cache.num_kv_heads; ++h) {
      // The cache is [num_blocks, num_kv_heads, block_size, head_dim].
      const int64_t dst =
          ((block * cache.num_kv_heads + h) * cache.block_size + offset) * head_dim;
      const int64_t src = (t * cache.num_kv_heads + h) * head_dim;
      std::memcpy(cache.key_cache + dst, key + src, head_bytes);
      std::memcpy(cache.value_cache + dst, value + src, head_bytes);
    }
  }
}

namespace {

// acc = acc * correction, then acc = fma(p[j], v_j, acc) for j in [0, n), where v_j is the
// row at values + j * stride. Every element gets the same rounding on every path: one
// multiply, then one fused multiply-add per key.
using WeightedSumFn = void (*)(float correction, const float* p, const float* values,
                               int64_t stride, int64_t n, int64_t head_dim, float* acc);

void weighted_sum_scalar(float correction, const float* p, const float* values, int64_t stride,
                         int64_t n, int64_t head_dim, float* acc) {
  for (int64_t d = 0; d < head_dim; ++d) acc[d] *= correction;
  for (int64_t j = 0; j < n; ++j) {
    const float* v = values + j * stride;
    for (int64_t d = 0; d < head_dim; ++d) acc[d] = std::fma(p[j], v[d], acc[d]);
  }
}

__attribute__((target("avx2,fma"))) void weighted_sum_avx2(float correction, const float* p,
                                                           const float* values,
                                                           int64_t stride, int64_t n,
                                                           int64_t head_dim, float* acc) {
  const __m256 c = _mm256_set1_ps(correction);
  int64_t d = 0;
  // Eight output lanes at a time stay in a register across all keys of the block.
  for (; d + 8 <= head_dim; d += 8) {
    __m256 a = _mm256_mul_ps(_mm256_loadu_ps(acc + d), c);
    for (int64_t j = 0; j < n; ++j) {
      a = _mm256_fmadd_ps(_mm256_set1_ps(p[j]), _mm256_loadu_ps(values + j * stride + d), a);
    }
    _mm256_storeu_ps(acc + d, a);
  }
  for (; d < head_dim; ++d) {
    float a = acc[d] * correction;
    for (int64_t j = 0; j < n; ++j) a = std::fma(p[j], values[j * stride + d], a);
    acc[d] = a;
  }
}

__attribute__((target("avx512f"))) void weighted_sum_avx512(float correction, const float* p,
                                                            const float* values,
                                                            int64_t stride, int64_t n,
                                                            int64_t head_dim, float* acc) {
  const __m512 c = _mm512_set1_ps(correction);
  int64_t d = 0;
  // Four registers of 16 lanes (64 dimensions) at a time, accumulated across the block.
  for (; d + 64 <= head_dim; d += 64) {
    __m512 a[4];
    for (int i = 0; i < 4; ++i) a[i] = _mm512_mul_ps(_mm512_loadu_ps(acc + d + 16 * i), c);
    for (int64_t j = 0; j < n; ++j) {
      const __m512 pj = _mm512_set1_ps(p[j]);
      const float* v = values + j * stride + d;
      for (int i = 0; i < 4; ++i) a[i] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + 16 * i), a[i]);
    }
    for (int i = 0; i < 4; ++i) _mm512_storeu_ps(acc + d + 16 * i, a[i]);
  }
  for (; d < head_dim; d += 16) {
    const __mmask16 mask =
        static_cast<__mmask16>(head_dim - d >= 16 ? 0xFFFF : (1u << (head_dim - d)) - 1);
    __m512 a = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, acc + d), c);
    for (int64_t j = 0; j < n; ++j) {
      a = _mm512_fmadd_ps(_mm512_set1_ps(p[j]),
                          _mm512_maskz_loadu_ps(mask, values + j * stride + d), a);
    }
    _mm512_mask_storeu_ps(acc + d, mask, a);
  }
}

// Sums the 16 lanes of each of a[0..15] into lane i of the result, by a fixed tree: pairs
// within 128-bit lanes, then pairs of pairs, then across the four 128-bit lanes.
__attribute__((target("avx512f"))) __m512 transpose_sum16(const __m512* a) {
  __m512 x[8];
  for (int i = 0; i < 8; ++i) {
    x[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]),
                         _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
  }
  // x[i], per 128-bit lane: (a[2i] 0+2, a[2i+1] 0+2, a[2i] 1+3, a[2i+1] 1+3).
  __m512 y[4];
  for (int i = 0; i < 4; ++i) {
    y[i] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                         _mm512_shuffle_ps(x[2 * i], x[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // y[i], per 128-bit lane L: the lane-L sums of a[4i], a[4i+1], a[4i+2], a[4i+3].
  const __m512 u01 = _mm512_add_ps(_mm512_shuffle_f32x4(y[0], y[1], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(y[0], y[1], _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 u23 = _mm512_add_ps(_mm512_shuffle_f32x4(y[2], y[3], _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(y[2], y[3], _MM_SHUFFLE(3, 2, 3, 2)));
  return _mm512_add_ps(_mm512_shuffle_f32x4(u01, u23, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(u01, u23, _MM_SHUFFLE(3, 1, 3, 1)));
}

// Returns q . k_j of the 16 keys at keys + j * stride as one vector, accumulating 16
// dimensions per step and masking the last head_dim % 16. With kFull false only the first
// `rows` keys exist, because fewer than 16 rows of the block remain; the other accumulators
// stay zero.
template <bool kFull>
__attribute__((target("avx512f"), always_inline)) inline __m512 scores16(
    const float* q, const float* keys, int64_t stride, int64_t rows, int64_t head_dim) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int j = 0; j < 16; ++j) acc[j] = _mm512_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= head_dim; d += 16) {
    const __m512 qv = _mm512_loadu_ps(q + d);
    if constexpr (kFull) {
#pragma GCC unroll 16
      for (int j = 0; j < 16; ++j) {
        acc[j] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(keys + j * stride + d), acc[j]);
      }
    } else {
      for (int64_t j = 0; j < rows; ++j) {
        acc[j] = _mm512_fmadd_ps(qv, _mm512_loadu_ps(keys + j * stride + d), acc[j]);
      }
    }
  }
  if (d < head_dim) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (head_dim - d)) - 1);
    const __m512 qv = _mm512_maskz_loadu_ps(mask, q + d);
    const int64_t n = kFull ? 16 : rows;
    for (int64_t j = 0; j < n; ++j) {
      acc[j] = _mm512_fmadd_ps(qv, _mm512_maskz_loadu_ps(mask, keys + j * stride + d), acc[j]);
    }
  }
  return transpose_sum16(acc);
}

// scores[j] = q . k_j for j in [0, n), k_j at keys + j * stride, n <= block_size, 16 keys
// at a time, each with its own 16-lane accumulator, summed by transpose_sum16. This is
// cheaper than a horizontal sum per key. A key's bits do not depend on n, because where 16
// rows of the block remain all 16 are computed. Whatever rows past n hold (other tokens,
// zeros) reaches only their own lanes, which are not stored.
__attribute__((target("avx512f"))) void scores_avx512(const float* q, const float* keys,
                                                      int64_t stride, int64_t n,
                                                      int64_t block_size, int64_t head_dim,
                                                      float* scores) {
  for (int64_t j0 = 0; j0 < n; j0 += 16) {
    const int64_t m = std::min<int64_t>(16, n - j0);
    const int64_t rows = std::min<int64_t>(16, block_size - j0);
    const __m512 sums = rows == 16 ? scores16<true>(q, keys + j0 * stride, stride, 16, head_dim)
                                   : scores16<false>(q, keys + j0 * stride, stride, rows, head_dim);
    _mm512_mask_storeu_ps(scores + j0, static_cast<__mmask16>((1u << m) - 1), sums);
  }
}

// The softmax step of one block: scores *= scale, the soft cap, the block max, p =
// exp(score - new max) in place, and the running sum updated in key order. Returns the
// correction of the old running sum and output, and updates running_max and running_sum.
float softmax_block(float* row, int64_t n, float scale, float soft_cap, float& running_max,
                    float& running_sum) {
  float block_max = -std::numeric_limits<float>::infinity();
  for (int64_t j = 0; j < n; ++j) {
    float score = row[j] * scale;
    if (soft_cap > 0.0f) score = soft_cap * std::tanh(score / soft_cap);
    row[j] = score;
    block_max = std::max(block_max, score);
  }
  const float new_max = std::max(running_max, block_max);
  const float correction = std::exp(running_max - new_max);  // 0 on the first block
  float sum = running_sum * correction;
  for (int64_t j = 0; j < n; ++j) {
    row[j] = std::exp(row[j] - new_max);
    sum += row[j];
  }
  running_sum = sum;
  running_max = new_max;
  return correction;
}

// softmax_block on AVX-512, except that p comes from the vector exp (within 2 ulp of
// std::exp) and the block's sum of p is taken by a fixed tree over 16 lanes (masked lanes add
// zero) instead of in key order.
__attribute__((target("avx512f"))) float softmax_block_avx512(float* row, int64_t n,
                                                             float scale, float soft_cap,
                                                             float& running_max,
                                                             float& running_sum) {
  const __m512 scale_v = _mm512_set1_ps(scale);
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mask = tail_mask16(n - j);
    _mm512_mask_storeu_ps(row + j, mask,
                          _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row + j), scale_v));
  }
  if (soft_cap > 0.0f) {
    for (int64_t j = 0; j < n; ++j) row[j] = soft_cap * std::tanh(row[j] / soft_cap);
  }
  __m512 max_v = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mask = tail_mask16(n - j);
    max_v = _mm512_mask_max_ps(max_v, mask, max_v, _mm512_maskz_loadu_ps(mask, row + j));
  }
  const float new_max = std::max(running_max, _mm512_reduce_max_ps(max_v));
  const float correction = std::exp(running_max - new_max);  // 0 on the first block
  // p = exp(score - new max) by the vector exp. Masked lanes add zero to the sum.
  const __m512 new_max_v = _mm512_set1_ps(new_max);
  __m512 sum_v = _mm512_setzero_ps();
  for (int64_t j = 0; j < n; j += 16) {
    const __mmask16 mask = tail_mask16(n - j);
    const __m512 p =
        exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, row + j), new_max_v));
    _mm512_mask_storeu_ps(row + j, mask, p);
    sum_v = _mm512_add_ps(sum_v, _mm512_maskz_mov_ps(mask, p));
  }
  running_sum = running_sum * correction + _mm512_reduce_add_ps(sum_v);
  running_max = new_max;
  return correction;
}

WeightedSumFn weighted_sum_for(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512Vnni:
    case CpuIsa::kAvx512: return &weighted_sum_avx512;
    case CpuIsa::kAvx2: return &weighted_sum_avx2;
    case CpuIsa::kScalar: break;
  }
  return &weighted_sum_scalar;
}

// Prefetches into L2 the keys and values of one KV head of one block, `block_size` rows of
// head_dim floats from `offset` in each cache. Blocks are scattered over the cache, so the
// hardware prefetcher cannot follow a sequence from one block to the next.
void prefetch_block(const PagedKVCacheView& cache, int64_t offset) {
  const char* key = reinterpret_cast<const char*>(cache.key_cache + offset);
  const char* value = reinterpret_cast<const char*>(cache.value_cache + offset);
  const int64_t bytes = cache.block_size * cache.head_dim * static_cast<int64_t>(sizeof(float));
  for (int64_t line = 0; line < bytes; line += 64) {
    _mm_prefetch(key + line, _MM_HINT_T1);
    _mm_prefetch(value + line, _MM_HINT_T1);
  }
}

// Blocks of keys and values prefetched ahead of the one being read.
constexpr int64_t kPrefetchBlocks = 2;

// Items per unit of thread work. Units take every num_units-th item, so that each thread's
// share mixes short and long contexts: consecutive tokens of a prompt have growing contexts,
// and contiguous ranges of them would give the last thread most of the work.
constexpr int64_t kUnitsPerThread = 8;

}  // namespace

void paged_attention(const float* query, int64_t num_tokens, int64_t num_heads,
                     const PagedKVCacheView& cache, const AttentionMetadata& metadata,
                     const AttentionOptions& options, float* out) {
  const int64_t head_dim = cache.head_dim;
  const int64_t block_size = cache.block_size;
  const int64_t num_kv_heads = cache.num_kv_heads;
  const int64_t queries_per_kv = num_heads / num_kv_heads;
  // Offset of KV head g's rows in block b: the cache is [num_blocks, num_kv_heads,
  // block_size, head_dim], so each head's keys of a block are contiguous.
  auto head_offset = [&](int64_t b, int64_t g) {
    return (b * num_kv_heads + g) * block_size * head_dim;
  };
  const int64_t num_seqs = static_cast<int64_t>(metadata.seq_lens.size());
  const float scale = options.scale;
  const float soft_cap = options.logits_soft_cap;
  const CpuIsa isa = active_isa();
  const WeightedSumFn weighted_sum = weighted_sum_for(isa);
  const bool avx512 = isa == CpuIsa::kAvx512 || isa == CpuIsa::kAvx512Vnni;

  // Sequence of each new token, so that items are independent of each other.
  std::vector<int32_t> token_seq(static_cast<size_t>(num_tokens));
  for (int64_t s = 0; s < num_seqs; ++s) {
    for (int32_t t = metadata.query_start_loc[s]; t < metadata.query_start_loc[s + 1]; ++t)
      token_seq[t] = static_cast<int32_t>(s);
  }

  // An item is one token's query heads of one KV head, which read that head's keys and
  // values once. With fewer (token, KV head) pairs than units, as in single-sequence decode
  // (3 pairs for SmolLM2, 1 for Gemma 3 270M), the query heads of a KV head split into
  // groups, so that every thread gets work. The split takes the fewest groups that give
  // each thread the same number of items (2 of 2 heads for Gemma 3 on 2 threads), else one
  // head per item. Each head's arithmetic is the same either way.
  const int num_threads = ThreadPool::global().num_threads();
  int64_t groups_per_kv_head = 1;
  if (num_tokens * num_kv_heads < kUnitsPerThread * num_threads) {
    groups_per_kv_head = queries_per_kv;
    for (int64_t groups = 1; groups < queries_per_kv; ++groups) {
      if (queries_per_kv % groups == 0 && num_tokens * num_kv_heads * groups % num_threads == 0) {
        groups_per_kv_head = groups;
        break;
      }
    }
  }
  const int64_t group_heads = queries_per_kv / groups_per_kv_head;
  const int64_t num_items = num_tokens * num_kv_heads * groups_per_kv_head;
  const int64_t num_units = std::min<int64_t>(num_items, kUnitsPerThread * num_threads);

  parallel_for(num_units, [&](int64_t first_unit, int64_t end_unit) {
    // Per query head of the item: scores of one block, output accumulator, softmax state.
    std::vector<float> scores(static_cast<size_t>(group_heads * block_size));  // [G, bs]
    std::vector<float> acc(static_cast<size_t>(group_heads * head_dim));       // [G, hd]
    std::vector<float> running_max(static_cast<size_t>(group_heads));
    std::vector<float> running_sum(static_cast<size_t>(group_heads));

    for (int64_t unit = first_unit; unit < end_unit; ++unit) {
      for (int64_t item = unit; item < num_items; item += num_units) {
        const int64_t t = item / (num_kv_heads * groups_per_kv_head);
        const int64_t g = item / groups_per_kv_head % num_kv_heads;
        // First query head of the item.
        const int64_t head0 = g * queries_per_kv + item % groups_per_kv_head * group_heads;
        const int64_t s = token_seq[t];
        const int64_t query_len =
            metadata.query_start_loc[s + 1] - metadata.query_start_loc[s];
        const int64_t position =
            metadata.seq_lens[s] - query_len + (t - metadata.query_start_loc[s]);
        const int64_t context_len = position + 1;
        // The window is masked by absolute position, so a token after a prefix-cache hit or
        // a chunk boundary attends to the same keys as in a whole-prompt step.
        const int64_t first_key =
            options.sliding_window > 0
                ? std::max<int64_t>(0, context_len - options.sliding_window)
                : 0;
        const int32_t* block_table =
            metadata.block_tables.data() + s * metadata.max_blocks_per_seq;
        // The item's query heads are adjacent rows: [group_heads, head_dim].
        const float* q = query + (t * num_heads + head0) * head_dim;

        std::fill(running_max.begin(), running_max.end(),
                  -std::numeric_limits<float>::infinity());
        std::fill(running_sum.begin(), running_sum.end(), 0.0f);
        std::fill(acc.begin(), acc.end(), 0.0f);

        // Items of one KV head read the same blocks. Only the first prefetches them, and the
        // others, on this core or the other, find them in L2 or the shared L3. A prefetch of
        // a block that is already cached still costs its 512 instructions.
        const bool prefetch = item % groups_per_kv_head == 0;
        for (int64_t b = first_key / block_size; prefetch &&
             b < first_key / block_size + kPrefetchBlocks && b * block_size < context_len; ++b) {
          prefetch_block(cache, head_offset(block_table[b], g));
        }
        for (int64_t b = first_key / block_size; b * block_size < context_len; ++b) {
          const int64_t n = std::min(block_size, context_len - b * block_size);
          // Keys [first_j, n) of the block are in the window.
          const int64_t first_j = std::max<int64_t>(0, first_key - b * block_size);
          const float* keys = cache.key_cache + head_offset(block_table[b], g);
          const float* values = cache.value_cache + head_offset(block_table[b], g);
          if (prefetch && (b + kPrefetchBlocks) * block_size < context_len) {
            prefetch_block(cache, head_offset(block_table[b + kPrefetchBlocks], g));
          }

          // scores[h, j] = q_h . k_j, on AVX-512 per head, else over tiles of up to 4 heads
          // by 4 keys.
          if (avx512) {
            for (int64_t h = 0; h < group_heads; ++h) {
              scores_avx512(q + h * head_dim, keys, head_dim, n, block_size, head_dim,
                            scores.data() + h * block_size);
            }
          }
          for (int64_t h0 = 0; !avx512 && h0 < group_heads; h0 += 4) {
            const int mt = static_cast<int>(std::min<int64_t>(4, group_heads - h0));
            for (int64_t j0 = 0; j0 < n; j0 += 4) {
              const int nr = static_cast<int>(std::min<int64_t>(4, n - j0));
              dot_tile(mt, nr, q + h0 * head_dim, head_dim, keys + j0 * head_dim,
                       head_dim, head_dim, scores.data() + h0 * block_size + j0,
                       block_size);
            }
          }

          // Softmax and weighted values over the keys in the window, [first_j, n).
          const int64_t num_keys = n - first_j;
          const float* window_values = values + first_j * head_dim;
          for (int64_t h = 0; h < group_heads; ++h) {
            float* row = scores.data() + h * block_size + first_j;
            float correction;
            if (avx512) {
              correction = softmax_block_avx512(row, num_keys, scale, soft_cap, running_max[h],
                                                running_sum[h]);
            } else {
              correction = softmax_block(row, num_keys, scale, soft_cap, running_max[h],
                                         running_sum[h]);
            }
            weighted_sum(correction, row, window_values, head_dim, num_keys, head_dim,
                         acc.data() + h * head_dim);
          }
        }

        for (int64_t h = 0; h < group_heads; ++h) {
          float* o = out + (t * num_heads + head0 + h) * head_dim;
          const float* a = acc.data() + h * head_dim;
          const float inv_sum = 1.0f / running_sum[h];
          for (int64_t d = 0; d < head_dim; ++d) o[d] = a[d] * inv_sum;
        }
      }
    }
  });
}

}  // namespace vllm::cpu
