// Paged attention and KV cache writes on the CPU.
//
// One work item is a tile of consecutive new tokens of a sequence with one KV head. Its rows,
// the (token, query head) pairs of that KV head, walk the tokens' context together, one
// cache block at a time, so each key and value row is read once for all of them. A
// prompt's tokens go about 12 rows to an item. A decode token's item is its query heads, or
// a group of them in single-sequence decode. Per row the walk is an online softmax: the
// block's scores, then the running max, the rescale of the running sum and output, and the
// weighted values (one fused multiply-add per element, in key order). No [query, context]
// score matrix is ever built. On AVX-512 the scores come in tiles of 4 rows by 4 keys and
// the weighted sums 4 rows at a time, sharing the loads. Every step of a row depends only on
// that row's query, context length and the cached K/V, never on the other rows of its tile.
// So a token gets the same bits however its prompt was chunked, whatever else is in the
// batch and however the items are spread over threads. A sliding window starts a row's walk
// at the block of its first key in the window.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <immintrin.h>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/cpu/reduce_avx512.h"
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

// One query row's share of a block: its query, scores (then p) and output accumulator, the
// correction of its running sums, and its keys [lo, hi) of the block.
struct RowRef {
  const float* q;  // [head_dim] the row's query
  float* p;        // [score_stride] scores, then softmax numerators, by the key's slot
  float* acc;      // [head_dim]
  float* max;      // running max of the row's scores
  float* sum;      // running sum of exp(score - max)
  float correction;
  int64_t lo, hi;
};

// Returns the scores of kRows query rows (rows[r].q, r < kRows <= 4) against 4 keys at keys +
// k * head_dim, q_r . k_k in lane 4 r + k. Each score accumulates 16 dimensions per step in
// its own 16-lane accumulator, masking the last head_dim % 16. transpose_reduce16 then adds
// the lanes by one fixed tree, so a score's bits depend only on q_r and the key, not on the
// other rows or keys of the tile. With kFullKeys false only the first `num_keys` keys are
// read, because fewer than 4 rows of the block remain; the other lanes are zero. A non-null
// next_keys (the same keys of the next block) is prefetched 16 dimensions per step.
template <int kRows, bool kFullKeys>
__attribute__((target("avx512f"), always_inline)) inline __m512 scores_tile(
    const RowRef* rows, const float* keys, int64_t num_keys, int64_t head_dim,
    const float* next_keys) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
  const int64_t keys_read = kFullKeys ? 4 : num_keys;
  int64_t d = 0;
  for (; d + 16 <= head_dim; d += 16) {
    __m512 qv[kRows];
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) qv[r] = _mm512_loadu_ps(rows[r].q + d);
    if (next_keys != nullptr) {
      for (int64_t k = 0; k < keys_read; ++k) {
        _mm_prefetch(next_keys + k * head_dim + d, _MM_HINT_T1);
      }
    }
#pragma GCC unroll 4
    for (int64_t k = 0; k < keys_read; ++k) {
      const __m512 kv = _mm512_loadu_ps(keys + k * head_dim + d);
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r) acc[4 * r + k] = _mm512_fmadd_ps(qv[r], kv, acc[4 * r + k]);
    }
  }
  if (d < head_dim) {
    const __mmask16 mask = tail_mask16(head_dim - d);
    __m512 qv[kRows];
    for (int r = 0; r < kRows; ++r) qv[r] = _mm512_maskz_loadu_ps(mask, rows[r].q + d);
    for (int64_t k = 0; k < keys_read; ++k) {
      const __m512 kv = _mm512_maskz_loadu_ps(mask, keys + k * head_dim + d);
      for (int r = 0; r < kRows; ++r) acc[4 * r + k] = _mm512_fmadd_ps(qv[r], kv, acc[4 * r + k]);
    }
  }
  return transpose_reduce16(acc, AddFloatOp{});
}

// scores_avx512 for kRows rows.
template <int kRows>
__attribute__((target("avx512f"))) void scores_rows(const RowRef* rows, const float* keys,
                                                    int64_t key_begin, int64_t key_end,
                                                    int64_t block_size, int64_t head_dim,
                                                    float scale, const float* next_keys) {
  const __m512 scale_v = _mm512_set1_ps(scale);
  for (int64_t j0 = key_begin; j0 < key_end; j0 += 4) {
    const int64_t keys_left = std::min<int64_t>(4, block_size - j0);
    const float* k = keys + j0 * head_dim;
    const float* next = next_keys != nullptr ? next_keys + j0 * head_dim : nullptr;
    const __m512 sums =
        _mm512_mul_ps(keys_left == 4
                          ? scores_tile<kRows, true>(rows, k, 4, head_dim, next)
                          : scores_tile<kRows, false>(rows, k, keys_left, head_dim, next),
                      scale_v);
    // Score rows have room for whole tiles of 4 keys.
    if constexpr (kRows > 0) _mm_storeu_ps(rows[0].p + j0, _mm512_extractf32x4_ps(sums, 0));
    if constexpr (kRows > 1) _mm_storeu_ps(rows[1].p + j0, _mm512_extractf32x4_ps(sums, 1));
    if constexpr (kRows > 2) _mm_storeu_ps(rows[2].p + j0, _mm512_extractf32x4_ps(sums, 2));
    if constexpr (kRows > 3) _mm_storeu_ps(rows[3].p + j0, _mm512_extractf32x4_ps(sums, 3));
  }
}

// Sets rows[r].p[j] = scale * q_r . k_j for rows r < num_rows and keys j in
// [key_begin, key_end) of a block (key_begin a multiple of 4), k_j at keys + j * head_dim, in
// tiles of 4 rows by 4 keys, so that each key row loaded serves 4 query rows. A row's p has
// room for the whole block rounded up to 4 keys.
__attribute__((target("avx512f"))) void scores_avx512(const RowRef* rows, int64_t num_rows,
                                                      const float* keys, int64_t key_begin,
                                                      int64_t key_end, int64_t block_size,
                                                      int64_t head_dim, float scale,
                                                      const float* next_keys) {
  for (int64_t r = 0; r < num_rows; r += 4) {
    const auto run = [&](auto rows_fn) {
      rows_fn(rows + r, keys, key_begin, key_end, block_size, head_dim, scale,
              r == 0 ? next_keys : nullptr);
    };
    switch (std::min<int64_t>(4, num_rows - r)) {
      case 1: run(scores_rows<1>); break;
      case 2: run(scores_rows<2>); break;
      case 3: run(scores_rows<3>); break;
      default: run(scores_rows<4>); break;
    }
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

// softmax_block on AVX-512 for scores already scaled and soft-capped. p comes from the vector
// exp (within 2 ulp of std::exp), and the block's sum of p is taken by a fixed tree over 16
// lanes (masked lanes add zero) instead of in key order.
__attribute__((target("avx512f"))) float softmax_block_avx512(float* row, int64_t n,
                                                             float& running_max,
                                                             float& running_sum) {
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

// The per-row weighted sum of the paths without AVX-512.
WeightedSumFn weighted_sum_for(CpuIsa isa) {
  return isa == CpuIsa::kAvx2 ? &weighted_sum_avx2 : &weighted_sum_scalar;
}

// Returns the max or the sum of two vectors, as reduce4 combines lanes.
template <bool kMax>
__attribute__((target("avx512f"), always_inline)) inline __m512 combine(__m512 x, __m512 y) {
  return kMax ? _mm512_max_ps(x, y) : _mm512_add_ps(x, y);
}

// Lane r of the result combines the 16 lanes of v[r], r < 4, by max or sum over a fixed
// tree: pairs within 128-bit lanes, then pairs of pairs, then across the four 128-bit lanes.
// Each row's lanes meet in the same order whatever its position, as both are commutative.
template <bool kMax>
__attribute__((target("avx512f"), always_inline)) inline __m512 reduce4(const __m512* v) {
  constexpr auto op = combine<kMax>;
  const __m512 a = op(_mm512_unpacklo_ps(v[0], v[1]), _mm512_unpackhi_ps(v[0], v[1]));
  const __m512 b = op(_mm512_unpacklo_ps(v[2], v[3]), _mm512_unpackhi_ps(v[2], v[3]));
  // Per 128-bit lane: the four rows' (0 op 2) op (1 op 3).
  const __m512 c = op(_mm512_shuffle_ps(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                      _mm512_shuffle_ps(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 d = op(c, _mm512_shuffle_f32x4(c, c, _MM_SHUFFLE(2, 3, 0, 1)));
  return op(d, _mm512_shuffle_f32x4(d, d, _MM_SHUFFLE(1, 0, 3, 2)));
}

// Runs the online-softmax step of one block for up to 4 rows whose keys [lo, hi) lie in the
// first 16 slots of the block, on scores already scaled and soft-capped. It takes the block
// max, p = exp(score - new max) by the vector exp, and the block's sum of p by the tree of
// reduce4, then updates the running sums and sets each row's correction of its old sum and
// output. A row's bits do not depend on the other rows.
__attribute__((target("avx512f"))) void softmax_rows16(RowRef* rows, int64_t num_rows) {
  const __m512 neg_inf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 s[4] = {neg_inf, neg_inf, neg_inf, neg_inf};
  __mmask16 mask[4] = {0, 0, 0, 0};
  // Lane r: row r's running max and sum. Built and read in registers, because scalars stored
  // and read back as one vector (or the reverse) stall store forwarding. Lanes past
  // num_rows are never read.
  __m512 old_max = _mm512_setzero_ps();
  __m512 old_sum = _mm512_setzero_ps();
  for (int64_t r = 0; r < num_rows; ++r) {
    mask[r] = static_cast<__mmask16>(((1u << rows[r].hi) - 1) & ~((1u << rows[r].lo) - 1));
    s[r] = _mm512_mask_loadu_ps(neg_inf, mask[r], rows[r].p);
    const auto lane = static_cast<__mmask16>(1u << r);
    old_max = _mm512_mask_broadcastss_ps(old_max, lane, _mm_load_ss(rows[r].max));
    old_sum = _mm512_mask_broadcastss_ps(old_sum, lane, _mm_load_ss(rows[r].sum));
  }

  const __m512 block_max = reduce4<true>(s);
  const __m512 new_max = _mm512_max_ps(old_max, block_max);
  const __m512 correction = exp_avx512(_mm512_sub_ps(old_max, new_max));  // 0 on the first block
  __m512 p[4];
  for (int r = 0; r < 4; ++r) {
    const __m512 row_max = _mm512_permutexvar_ps(_mm512_set1_epi32(r), new_max);
    p[r] = _mm512_maskz_mov_ps(mask[r], exp_avx512(_mm512_sub_ps(s[r], row_max)));
  }

  const __m512 block_sum = reduce4<false>(p);
  const __m512 new_sum = _mm512_add_ps(_mm512_mul_ps(old_sum, correction), block_sum);
  for (int64_t r = 0; r < num_rows; ++r) {
    const __m512i lane = _mm512_set1_epi32(static_cast<int>(r));
    _mm512_mask_storeu_ps(rows[r].p, mask[r], p[r]);
    *rows[r].max = _mm512_cvtss_f32(_mm512_permutexvar_ps(lane, new_max));
    *rows[r].sum = _mm512_cvtss_f32(_mm512_permutexvar_ps(lane, new_sum));
    rows[r].correction = _mm512_cvtss_f32(_mm512_permutexvar_ps(lane, correction));
  }
}

// Runs weighted_sum_avx2's arithmetic per row on 16-lane vectors, for kRows rows that share
// each value row loaded: acc = acc * correction, then acc = fma(p[j], v_j, acc) for j in
// [lo, hi) in key order, v_j at values + j * head_dim. A row's bits do not depend on the
// other rows. A non-null next_values (the next block's values) is prefetched along the same
// rows and dimensions as they are read.
template <int kRows>
__attribute__((target("avx512f"))) void weighted_sum_rows(const RowRef* rows,
                                                          const float* values,
                                                          int64_t head_dim,
                                                          const float* next_values) {
  int64_t key_begin = rows[0].lo, key_end = rows[0].hi;
  for (int r = 1; r < kRows; ++r) {
    key_begin = std::min(key_begin, rows[r].lo);
    key_end = std::max(key_end, rows[r].hi);
  }
  // Four vectors (64 dimensions) per row at a time, accumulated across the block.
  int64_t d = 0;
  for (; d + 64 <= head_dim; d += 64) {
    __m512 a[kRows][4];
    for (int r = 0; r < kRows; ++r) {
      const __m512 c = _mm512_set1_ps(rows[r].correction);
      for (int i = 0; i < 4; ++i) {
        a[r][i] = _mm512_mul_ps(_mm512_loadu_ps(rows[r].acc + d + 16 * i), c);
      }
    }
    for (int64_t j = key_begin; j < key_end; ++j) {
      const float* v = values + j * head_dim + d;
      if (next_values != nullptr) {
        for (int i = 0; i < 4; ++i) {
          _mm_prefetch(next_values + j * head_dim + d + 16 * i, _MM_HINT_T1);
        }
      }
      __m512 vj[4];
      for (int i = 0; i < 4; ++i) vj[i] = _mm512_loadu_ps(v + 16 * i);
      for (int r = 0; r < kRows; ++r) {
        if (j < rows[r].lo || j >= rows[r].hi) continue;
        const __m512 pj = _mm512_set1_ps(rows[r].p[j]);
        for (int i = 0; i < 4; ++i) a[r][i] = _mm512_fmadd_ps(pj, vj[i], a[r][i]);
      }
    }
    for (int r = 0; r < kRows; ++r) {
      for (int i = 0; i < 4; ++i) _mm512_storeu_ps(rows[r].acc + d + 16 * i, a[r][i]);
    }
  }
  for (; d < head_dim; d += 16) {
    const __mmask16 mask = tail_mask16(head_dim - d);
    __m512 a[kRows];
    for (int r = 0; r < kRows; ++r) {
      a[r] = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, rows[r].acc + d),
                           _mm512_set1_ps(rows[r].correction));
    }
    for (int64_t j = key_begin; j < key_end; ++j) {
      if (next_values != nullptr) _mm_prefetch(next_values + j * head_dim + d, _MM_HINT_T1);
      const __m512 vj = _mm512_maskz_loadu_ps(mask, values + j * head_dim + d);
      for (int r = 0; r < kRows; ++r) {
        if (j < rows[r].lo || j >= rows[r].hi) continue;
        a[r] = _mm512_fmadd_ps(_mm512_set1_ps(rows[r].p[j]), vj, a[r]);
      }
    }
    for (int r = 0; r < kRows; ++r) _mm512_mask_storeu_ps(rows[r].acc + d, mask, a[r]);
  }
}

void weighted_sum_avx512(const RowRef* rows, int64_t num_rows, const float* values,
                         int64_t head_dim, const float* next_values) {
  for (int64_t r = 0; r < num_rows; r += 4) {
    const float* next = r == 0 ? next_values : nullptr;
    switch (std::min<int64_t>(4, num_rows - r)) {
      case 1: weighted_sum_rows<1>(rows + r, values, head_dim, next); break;
      case 2: weighted_sum_rows<2>(rows + r, values, head_dim, next); break;
      case 3: weighted_sum_rows<3>(rows + r, values, head_dim, next); break;
      default: weighted_sum_rows<4>(rows + r, values, head_dim, next); break;
    }
  }
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

// Blocks of keys and values prefetched ahead of the one being read. On AVX-512 the score and
// weighted-sum loops prefetch the next block a few lines at a time, beside their own reads. A
// burst of a whole block's lines (prefetch_block) fills the miss buffers and stalls the loads
// behind it: 64-sequence decode read SmolLM2's cache at 20.5 GB/s that way, 28.8 spread out.
constexpr int64_t kPrefetchBlocks = 1;

// Query rows an item aims for: a prompt's tokens are grouped so that an item has about this
// many (token, query head) rows, which share each key and value row loaded.
constexpr int64_t kRowsPerItem = 12;

// Items per unit of thread work. Units take every num_units-th item, so that each thread's
// share mixes short and long contexts: consecutive tokens of a prompt have growing contexts,
// and contiguous ranges of them would give the last thread most of the work.
constexpr int64_t kUnitsPerThread = 8;

// Per-thread buffers of paged_attention, one entry per row of an item (token-major, then
// query head). They persist across calls, so that decode steps do not allocate per layer.
struct AttentionWorkspace {
  std::vector<float> scores;       // [rows, score_stride] one block's scores, then p
  std::vector<float> acc;          // [rows, head_dim] output accumulators
  std::vector<float> running_max;  // [rows]
  std::vector<float> running_sum;  // [rows]
  std::vector<int64_t> context_len, first_key;  // [rows] each row's keys [first_key, context_len)
  std::vector<const float*> q;                  // [rows]
  std::vector<RowRef> active;                   // [rows] the rows with keys in a block

  void reserve(int64_t rows, int64_t score_stride, int64_t head_dim) {
    const auto grow = [](auto& buffer, int64_t size) {
      if (buffer.size() < static_cast<size_t>(size)) buffer.resize(static_cast<size_t>(size));
    };
    grow(scores, rows * score_stride);
    grow(acc, rows * head_dim);
    for (auto* buffer : {&running_max, &running_sum}) grow(*buffer, rows);
    for (auto* buffer : {&context_len, &first_key}) grow(*buffer, rows);
    grow(q, rows);
    grow(active, rows);
  }
};

thread_local AttentionWorkspace workspace;

// Consecutive new tokens of one sequence that an item attends for together.
struct TokenTile {
  int32_t seq, first_token, num_tokens;
};

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
  const bool avx512 = isa >= CpuIsa::kAvx512;

  // Each sequence's new tokens in tiles of up to tile_tokens. Every row's arithmetic is the
  // same in any tile, so the tiling changes only the speed.
  const int64_t tile_tokens = std::max<int64_t>(1, kRowsPerItem / queries_per_kv);
  std::vector<TokenTile> tiles;
  for (int64_t s = 0; s < num_seqs; ++s) {
    for (int32_t t = metadata.query_start_loc[s]; t < metadata.query_start_loc[s + 1];
         t += static_cast<int32_t>(tile_tokens)) {
      const int64_t count = std::min<int64_t>(tile_tokens, metadata.query_start_loc[s + 1] - t);
      tiles.push_back({static_cast<int32_t>(s), t, static_cast<int32_t>(count)});
    }
  }
  const auto num_tiles = static_cast<int64_t>(tiles.size());

  // An item is one tile's query heads of one KV head, which read that head's keys and values
  // once. With fewer (tile, KV head) pairs than units, as in single-sequence decode (3 pairs
  // for SmolLM2, 1 for Gemma 3 270M), the query heads of a KV head split into groups, so that
  // every thread gets work. The split takes the fewest groups that give each thread the same
  // number of items (2 of 2 heads for Gemma 3 on 2 threads), else one head per item.
  const int num_threads = ThreadPool::global().num_threads();
  int64_t groups_per_kv_head = 1;
  if (num_tiles * num_kv_heads < kUnitsPerThread * num_threads) {
    groups_per_kv_head = queries_per_kv;
    for (int64_t groups = 1; groups < queries_per_kv; ++groups) {
      if (queries_per_kv % groups == 0 && num_tiles * num_kv_heads * groups % num_threads == 0) {
        groups_per_kv_head = groups;
        break;
      }
    }
  }
  const int64_t group_heads = queries_per_kv / groups_per_kv_head;
  const int64_t num_items = num_tiles * num_kv_heads * groups_per_kv_head;
  const int64_t num_units = std::min<int64_t>(num_items, kUnitsPerThread * num_threads);
  const int64_t max_rows = tile_tokens * group_heads;
  // Score rows hold whole tiles of 4 keys.
  const int64_t score_stride = (block_size + 3) / 4 * 4;

  parallel_for(num_units, [&](int64_t first_unit, int64_t end_unit) {
    AttentionWorkspace& w = workspace;
    w.reserve(max_rows, score_stride, head_dim);
    float* scores = w.scores.data();
    float* acc = w.acc.data();
    float* running_max = w.running_max.data();
    float* running_sum = w.running_sum.data();
    int64_t* context_len = w.context_len.data();
    int64_t* first_key = w.first_key.data();
    const float** q = w.q.data();
    RowRef* active = w.active.data();

    for (int64_t unit = first_unit; unit < end_unit; ++unit) {
      for (int64_t item = unit; item < num_items; item += num_units) {
        const TokenTile& tile = tiles[item / (num_kv_heads * groups_per_kv_head)];
        const int64_t g = item / groups_per_kv_head % num_kv_heads;
        // First query head of the item.
        const int64_t head0 = g * queries_per_kv + item % groups_per_kv_head * group_heads;
        const int64_t s = tile.seq;
        const int64_t query_len = metadata.query_start_loc[s + 1] - metadata.query_start_loc[s];
        const int32_t* block_table =
            metadata.block_tables.data() + s * metadata.max_blocks_per_seq;
        const int64_t num_rows = tile.num_tokens * group_heads;

        // Keys [first_key, context_len) of a row are in its window. The window is masked by
        // absolute position, so a token after a prefix-cache hit or a chunk boundary attends
        // to the same keys as in a whole-prompt step.
        int64_t walk_begin = std::numeric_limits<int64_t>::max(), walk_end = 0;
        for (int64_t i = 0; i < tile.num_tokens; ++i) {
          const int64_t t = tile.first_token + i;
          const int64_t position =
              metadata.seq_lens[s] - query_len + (t - metadata.query_start_loc[s]);
          const int64_t ctx = position + 1;
          const int64_t first =
              options.sliding_window > 0 ? std::max<int64_t>(0, ctx - options.sliding_window)
                                         : 0;
          walk_begin = std::min(walk_begin, first);
          walk_end = std::max(walk_end, ctx);
          for (int64_t h = 0; h < group_heads; ++h) {
            const int64_t r = i * group_heads + h;
            context_len[r] = ctx;
            first_key[r] = first;
            q[r] = query + (t * num_heads + head0 + h) * head_dim;
          }
        }

        std::fill_n(running_max, num_rows, -std::numeric_limits<float>::infinity());
        std::fill_n(running_sum, num_rows, 0.0f);
        std::fill_n(acc, num_rows * head_dim, 0.0f);

        // Items of one KV head read the same blocks. Only the first prefetches them, and the
        // others, on this core or the other, find them in L2 or the shared L3. A prefetch of
        // a block that is already cached still costs its 512 instructions.
        const bool prefetch = item % groups_per_kv_head == 0;
        const int64_t first_block = walk_begin / block_size;
        const int64_t end_block = (walk_end + block_size - 1) / block_size;
        const int64_t first_prefetch_end = std::min(first_block + kPrefetchBlocks, end_block);
        for (int64_t b = first_block; prefetch && b < first_prefetch_end; ++b) {
          prefetch_block(cache, head_offset(block_table[b], g));
        }
        for (int64_t b = first_block; b < end_block; ++b) {
          const float* keys = cache.key_cache + head_offset(block_table[b], g);
          const float* values = cache.value_cache + head_offset(block_table[b], g);
          const float* next_keys = nullptr;
          const float* next_values = nullptr;
          if (prefetch && b + kPrefetchBlocks < end_block) {
            const int64_t next = head_offset(block_table[b + kPrefetchBlocks], g);
            if (avx512) {
              next_keys = cache.key_cache + next;
              next_values = cache.value_cache + next;
            } else {
              prefetch_block(cache, next);
            }
          }
          // The rows with keys in this block, and those keys' slots [lo, hi).
          int64_t num_active = 0, key_begin = block_size, key_end = 0;
          for (int64_t r = 0; r < num_rows; ++r) {
            const int64_t lo = std::max<int64_t>(0, first_key[r] - b * block_size);
            const int64_t hi = std::min(block_size, context_len[r] - b * block_size);
            if (lo >= hi) continue;
            active[num_active] = {q[r], scores + r * score_stride, acc + r * head_dim,
                                  &running_max[r], &running_sum[r], 0.0f, lo, hi};
            ++num_active;
            key_begin = std::min(key_begin, lo);
            key_end = std::max(key_end, hi);
          }

          if (avx512) {
            scores_avx512(active, num_active, keys, key_begin / 4 * 4, key_end, block_size,
                          head_dim, scale, next_keys);
          } else {
            // Tiles of one row by up to 4 keys, unscaled, because softmax_block scales.
            for (int64_t i = 0; i < num_active; ++i) {
              for (int64_t j0 = key_begin / 4 * 4; j0 < key_end; j0 += 4) {
                const int nr = static_cast<int>(std::min<int64_t>(4, key_end - j0));
                dot_tile(1, nr, active[i].q, head_dim, keys + j0 * head_dim, head_dim,
                         head_dim, active[i].p + j0, score_stride);
              }
            }
          }

          // Softmax and weighted values over each row's keys [lo, hi).
          if (!avx512) {
            for (int64_t i = 0; i < num_active; ++i) {
              RowRef& row = active[i];
              float* p = row.p + row.lo;
              row.correction = softmax_block(p, row.hi - row.lo, scale, soft_cap, *row.max,
                                             *row.sum);
              weighted_sum(row.correction, p, values + row.lo * head_dim, head_dim,
                           row.hi - row.lo, head_dim, row.acc);
            }
            continue;
          }
          if (soft_cap > 0.0f) {
            for (int64_t i = 0; i < num_active; ++i) {
              float* p = active[i].p;
              for (int64_t j = active[i].lo; j < active[i].hi; ++j) {
                p[j] = soft_cap * std::tanh(p[j] / soft_cap);
              }
            }
          }
          if (block_size <= 16) {
            for (int64_t i = 0; i < num_active; i += 4) {
              softmax_rows16(active + i, std::min<int64_t>(4, num_active - i));
            }
          } else {
            for (int64_t i = 0; i < num_active; ++i) {
              RowRef& row = active[i];
              row.correction =
                  softmax_block_avx512(row.p + row.lo, row.hi - row.lo, *row.max, *row.sum);
            }
          }
          weighted_sum_avx512(active, num_active, values, head_dim, next_values);
        }

        for (int64_t r = 0; r < num_rows; ++r) {
          const int64_t t = tile.first_token + r / group_heads;
          float* o = out + (t * num_heads + head0 + r % group_heads) * head_dim;
          const float* a = acc + r * head_dim;
          const float inv_sum = 1.0f / running_sum[r];
          for (int64_t d = 0; d < head_dim; ++d) o[d] = a[d] * inv_sum;
        }
      }
    }
  });
}

}  // namespace vllm::cpu
