// Rotary position embedding (RoPE): the cos/sin table of transformers' rotary classes, with
// their frequency scalings, applied in either pair layout (see ops::rotary_embedding).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "kernels/ops.h"
#include "models/model_config.h"

namespace vllm {

class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  // Rotates the first rotary_dim dimensions of each head (0: all head_dim). `scaling` is
  // one of the rope types of transformers 5.25's ROPE_INIT_FUNCTIONS that RopeScaling
  // lists; others throw ModelLoadError. max_position_embeddings is used by longrope only.
  RotaryEmbedding(int64_t head_dim, double rope_theta,
                  RotaryStyle style = RotaryStyle::kAdjacentPairs, int64_t rotary_dim = 0,
                  const RopeScaling& scaling = {}, int64_t max_position_embeddings = 0);

  int64_t rotary_dim() const { return rotary_dim_; }

  // Fills cos_sin [num_tokens, rotary_dim / 2, 2] with (cos, sin) of position * inv_freq[i],
  // both multiplied by the scaling's attention factor.
  void compute_cos_sin(std::span<const int32_t> positions,  // [num_tokens]
                       std::vector<float>& cos_sin) const;
  // Rotates query and key in place.
  void forward(std::span<const float> cos_sin,  // [num_tokens, rotary_dim / 2, 2]
               std::span<float> query,          // [num_tokens, num_heads, head_dim]
               std::span<float> key,            // [num_tokens, num_kv_heads, head_dim]
               int64_t num_heads, int64_t num_kv_heads) const;

 private:
  int64_t head_dim_ = 0;
  int64_t rotary_dim_ = 0;
  RotaryStyle style_ = RotaryStyle::kAdjacentPairs;
  std::vector<float> inv_freq_;  // [rotary_dim / 2]
  float attention_factor_ = 1.0f;
};

}  // namespace vllm
