// Linear layer y = x W^T (+ b) with a quantization method that owns how W is stored.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "kernels/ops.h"

namespace vllm {

// Quantization method of a linear layer: the storage of its weight and the matching product.
class LinearMethod {
 public:
  virtual ~LinearMethod() = default;
  virtual int64_t in_features() const = 0;
  virtual int64_t out_features() const = 0;
  // The weight matrix of a method whose apply() is exactly ops::linear on it, or null for
  // any other method. Products of one input run together only through this matrix.
  virtual const WeightMatrix* weight_matrix() const { return nullptr; }
  virtual void apply(std::span<const float> x,  // [num_tokens, in_features]
                     int64_t num_tokens,
                     std::span<const float> bias,  // [out_features] or empty
                     std::span<float> y) const = 0;  // [num_tokens, out_features]
};

// Weight kept in its file format (F32, F16, BF16 or a ggml block format such as Q4_1), in the
// file's row order or in row groups. The product dequantizes it one tile at a time, or
// multiplies row groups in integers.
class BlockQuantLinearMethod : public LinearMethod {
 public:
  explicit BlockQuantLinearMethod(WeightMatrix weight) : weight_(weight) {}
  int64_t in_features() const override { return weight_.cols; }
  int64_t out_features() const override { return weight_.rows; }
  void apply(std::span<const float> x, int64_t num_tokens, std::span<const float> bias,
             std::span<float> y) const override;
  const WeightMatrix& weight() const { return weight_; }
  const WeightMatrix* weight_matrix() const override { return &weight_; }

 private:
  WeightMatrix weight_;  // [out_features, in_features]
};

class Linear {
 public:
  Linear() = default;
  explicit Linear(std::unique_ptr<LinearMethod> method, std::vector<float> bias = {});

  int64_t in_features() const { return method_->in_features(); }
  int64_t out_features() const { return method_->out_features(); }
  void forward(std::span<const float> x,  // [num_tokens, in_features]
               int64_t num_tokens,
               std::span<float> y) const;  // [num_tokens, out_features]

  // forward() for callers that need only each token's largest outputs: an output that may be
  // its token's maximum gets forward()'s value, any other that value or -inf
  // (ops::linear_max).
  void forward_max(std::span<const float> x,  // [num_tokens, in_features]
                   int64_t num_tokens,
                   std::span<float> y) const;  // [num_tokens, out_features]

  // Runs layers[i].forward(x, num_tokens, outputs[i]) for layers of one input, with the same
  // results. Those whose methods keep a weight matrix run together (ops::linear_shared_input).
  static void forward_shared_input(std::span<const Linear* const> layers,
                                   std::span<const float> x,  // [num_tokens, in_features]
                                   int64_t num_tokens,
                                   std::span<const std::span<float>> outputs);

 private:
  std::unique_ptr<LinearMethod> method_;
  std::vector<float> bias_;  // [out_features] or empty
};

}  // namespace vllm
