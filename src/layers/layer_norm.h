// LayerNorm with an optional bias: (x - mean) / sqrt(var + eps) * weight + bias, per token.
#pragma once

#include <span>
#include <vector>

#include "kernels/ops.h"

namespace vllm {

class LayerNorm {
 public:
  LayerNorm() = default;
  LayerNorm(std::vector<float> weight, std::vector<float> bias, double eps)
      : weight_(std::move(weight)), bias_(std::move(bias)), eps_(eps) {}

  int64_t hidden_size() const { return static_cast<int64_t>(weight_.size()); }
  void forward(std::span<const float> x,  // [num_tokens, hidden_size]
               std::span<float> out) const {  // [num_tokens, hidden_size], may alias x
    ops::layer_norm(Device::kCpu, x, weight_, bias_, eps_, out);
  }

 private:
  std::vector<float> weight_;  // [hidden_size]
  std::vector<float> bias_;    // [hidden_size] or empty
  double eps_ = 1e-5;
};

}  // namespace vllm
