// Rotary position embedding with ggml's adjacent-pair layout (see ops::rotary_embedding).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace vllm {

class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  RotaryEmbedding(int64_t head_dim, double rope_theta);

  // Fills cos_sin [num_tokens, head_dim / 2, 2] with (cos, sin) of position * inv_freq[i].
  void compute_cos_sin(std::span<const int32_t> positions,  // [num_tokens]
                       std::vector<float>& cos_sin) const;
  // Rotates query and key in place.
  void forward(std::span<const float> cos_sin,  // [num_tokens, head_dim / 2, 2]
               std::span<float> query,          // [num_tokens, num_heads, head_dim]
               std::span<float> key,            // [num_tokens, num_kv_heads, head_dim]
               int64_t num_heads, int64_t num_kv_heads) const;

 private:
  int64_t head_dim_ = 0;
  std::vector<float> inv_freq_;  // [head_dim / 2]
};

}  // namespace vllm
