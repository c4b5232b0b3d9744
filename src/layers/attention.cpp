#include "layers/attention.h"

#include "core/errors.h"

namespace vllm {

Attention::Attention(int64_t layer_index, int64_t num_heads, int64_t num_kv_heads,
                     int64_t head_dim, const AttentionOptions& options)
    : layer_index_(layer_index),
      num_heads_(num_heads),
      num_kv_heads_(num_kv_heads),
      head_dim_(head_dim),
      options_(options) {}

void Attention::forward(std::span<const float> query, std::span<const float> key,
                        std::span<const float> value, const ForwardBatch& batch,
                        KVCache& kv_cache, std::span<float> out) const {
  VLLM_CHECK(kv_cache.num_kv_heads() == num_kv_heads_ && kv_cache.head_dim() == head_dim_,
             "KV cache has {} KV heads of {}, the model needs {} of {}", kv_cache.num_kv_heads(),
             kv_cache.head_dim(), num_kv_heads_, head_dim_);
  const PagedKVCacheView cache{kv_cache.key_cache(layer_index_),
                               kv_cache.value_cache(layer_index_),
                               kv_cache.num_blocks(),
                               kv_cache.block_size(),
                               num_kv_heads_,
                               head_dim_};
  ops::write_kv(key, value, batch.slot_mapping, cache);
  const AttentionMetadata metadata{batch.query_start_loc, batch.seq_lens, batch.block_tables,
                                   batch.max_blocks_per_seq};
  ops::paged_attention(query, num_heads_, cache, metadata, options_, out);
}

}  // namespace vllm
