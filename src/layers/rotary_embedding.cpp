#include "layers/rotary_embedding.h"

#include <cmath>

#include "kernels/ops.h"

namespace vllm {

RotaryEmbedding::RotaryEmbedding(int64_t head_dim, double rope_theta) : head_dim_(head_dim) {
  // Computed in float32 as HF transformers' Llama rotary embedding does:
  // inv_freq[i] = 1 / theta^(2i / head_dim), angle = float(position) * inv_freq[i].
  const float theta = static_cast<float>(rope_theta);
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq_.push_back(1.0f / std::pow(theta, exponent));
  }
}

void RotaryEmbedding::compute_cos_sin(std::span<const int32_t> positions,
                                      std::vector<float>& cos_sin) const {
  cos_sin.resize(positions.size() * static_cast<size_t>(head_dim_));
  size_t i = 0;
  for (int32_t position : positions) {
    for (float inv_freq : inv_freq_) {
      const float angle = static_cast<float>(position) * inv_freq;
      cos_sin[i++] = std::cos(angle);
      cos_sin[i++] = std::sin(angle);
    }
  }
}

void RotaryEmbedding::forward(std::span<const float> cos_sin, std::span<float> query,
                              std::span<float> key, int64_t num_heads,
                              int64_t num_kv_heads) const {
  ops::rotary_embedding(Device::kCpu, cos_sin, query, key, num_heads, num_kv_heads, head_dim_);
}

}  // namespace vllm
