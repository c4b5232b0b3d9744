// RMSNorm: x / sqrt(mean(x^2) + eps) * weight, per token.
#pragma once

#include <span>
#include <vector>

#include "kernels/ops.h"

namespace vllm {

class RMSNorm {
 public:
  RMSNorm() = default;
  RMSNorm(std::vector<float> weight, double eps) : weight_(std::move(weight)), eps_(eps) {}

  int64_t hidden_size() const { return static_cast<int64_t>(weight_.size()); }
  void forward(std::span<const float> x,  // [num_tokens, hidden_size]
               std::span<float> out) const {  // [num_tokens, hidden_size], may alias x
    ops::rms_norm(Device::kCpu, x, weight_, eps_, out);
  }

 private:
  std::vector<float> weight_;  // [hidden_size]
  double eps_ = 1e-5;
};

}  // namespace vllm
