// Paged attention and KV cache writes on the CPU.
//
// One work item is (new token, query head); items are split statically over threads. An item
// walks its context one cache block at a time with an online softmax: scores of the block,
// then the running max, the rescale of the running sum and output, and the weighted values.
// No [query, context] score matrix is ever built. The item's operations depend only on its
// context length and the cached K/V, so a token gets the same bits however its prompt was
// chunked and whatever else is in the batch.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/cpu_kernels.h"

namespace vllm::cpu {

void write_kv(const float* key, const float* value, const int64_t* slot_mapping,
              int64_t num_tokens, const PagedKVCacheView& cache) {
  const int64_t token_floats = cache.num_kv_heads * cache.head_dim;
  for (int64_t t = 0; t < num_tokens; ++t) {
    const int64_t slot = slot_mapping[t];
    if (slot < 0) continue;
    std::memcpy(cache.key_cache + slot * token_floats, key + t * token_floats,
                static_cast<size_t>(token_floats) * sizeof(float));
    std::memcpy(cache.value_cache + slot * token_floats, value + t * token_floats,
                static_cast<size_t>(token_floats) * sizeof(float));
  }
}

void paged_attention(const float* query, int64_t num_tokens, int64_t num_heads,
                     const PagedKVCacheView& cache, const AttentionMetadata& metadata,
                     float scale, float* out) {
  const int64_t head_dim = cache.head_dim;
  const int64_t block_size = cache.block_size;
  const int64_t queries_per_kv = num_heads / cache.num_kv_heads;
  const int64_t token_floats = cache.num_kv_heads * head_dim;  // one slot of the cache
  const int64_t num_seqs = static_cast<int64_t>(metadata.seq_lens.size());

  // Sequence of each new token, so that items are independent of each other.
  std::vector<int32_t> token_seq(static_cast<size_t>(num_tokens));
  for (int64_t s = 0; s < num_seqs; ++s) {
    for (int32_t t = metadata.query_start_loc[s]; t < metadata.query_start_loc[s + 1]; ++t)
      token_seq[t] = static_cast<int32_t>(s);
  }

  const int64_t num_items = num_tokens * num_heads;
  const auto dot = [&](const float* a, const float* b) {
    float result;
    dot_tile(1, 1, a, 0, b, 0, head_dim, &result, 0);
    return result;
  };

  parallel_for(num_items, [&](int64_t first_item, int64_t end_item) {
    std::vector<float> scores(static_cast<size_t>(block_size));  // [block_size]
    std::vector<float> acc(static_cast<size_t>(head_dim));       // [head_dim]

    for (int64_t item = first_item; item < end_item; ++item) {
      const int64_t t = item / num_heads;
      const int64_t h = item % num_heads;
      const int64_t s = token_seq[t];
      const int64_t query_len = metadata.query_start_loc[s + 1] - metadata.query_start_loc[s];
      const int64_t position = metadata.seq_lens[s] - query_len + (t - metadata.query_start_loc[s]);
      const int64_t context_len = position + 1;
      const int32_t* block_table = metadata.block_tables.data() + s * metadata.max_blocks_per_seq;
      const int64_t kv_offset = (h / queries_per_kv) * head_dim;
      const float* q = query + (t * num_heads + h) * head_dim;

      float running_max = -std::numeric_limits<float>::infinity();
      float running_sum = 0.0f;
      std::fill(acc.begin(), acc.end(), 0.0f);

      for (int64_t b = 0; b * block_size < context_len; ++b) {
        const int64_t block_base = static_cast<int64_t>(block_table[b]) * block_size;
        const int64_t n = std::min(block_size, context_len - b * block_size);

        float block_max = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) {
          const float* k = cache.key_cache + (block_base + j) * token_floats + kv_offset;
          scores[j] = dot(q, k) * scale;
          block_max = std::max(block_max, scores[j]);
        }

        const float new_max = std::max(running_max, block_max);
        const float correction = std::exp(running_max - new_max);  // 0 on the first block
        running_sum *= correction;
        for (int64_t d = 0; d < head_dim; ++d) acc[d] *= correction;
        for (int64_t j = 0; j < n; ++j) {
          const float p = std::exp(scores[j] - new_max);
          running_sum += p;
          const float* v = cache.value_cache + (block_base + j) * token_floats + kv_offset;
          for (int64_t d = 0; d < head_dim; ++d) acc[d] += p * v[d];
        }
        running_max = new_max;
      }

      float* o = out + (t * num_heads + h) * head_dim;
      const float inv_sum = 1.0f / running_sum;
      for (int64_t d = 0; d < head_dim; ++d) o[d] = acc[d] * inv_sum;
    }
  });
}

}  // namespace vllm::cpu
