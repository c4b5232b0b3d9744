// Paged attention layer: stores the step's keys and values in the layer's cache blocks, then
// attends causally over each sequence's context through its block table. AttentionOptions
// (kernels/ops.h) carries the layer's score scale, sliding window and logit soft cap.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/ops.h"
#include "models/model.h"

namespace vllm {

class Attention {
 public:
  Attention() = default;
  // options.scale is usually 1 / sqrt(head_dim); Gemma uses query_pre_attn_scalar.
  Attention(int64_t layer_index, int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
            const AttentionOptions& options);

  void forward(std::span<const float> query,  // [num_tokens, num_heads, head_dim]
               std::span<const float> key,    // [num_tokens, num_kv_heads, head_dim]
               std::span<const float> value,  // [num_tokens, num_kv_heads, head_dim]
               const ForwardBatch& batch, KVCache& kv_cache,
               std::span<float> out) const;  // [num_tokens, num_heads, head_dim]

 private:
  int64_t layer_index_ = 0;
  int64_t num_heads_ = 0;
  int64_t num_kv_heads_ = 0;
  int64_t head_dim_ = 0;
  AttentionOptions options_;
};

}  // namespace vllm
