#include "layers/linear.h"

#include <vector>

#include "core/errors.h"

namespace vllm {

void BlockQuantLinearMethod::apply(std::span<const float> x, int64_t num_tokens,
                                   std::span<const float> bias, std::span<float> y) const {
  ops::linear(x, num_tokens, weight_, bias, y);
}

Linear::Linear(std::unique_ptr<LinearMethod> method, std::vector<float> bias)
    : method_(std::move(method)), bias_(std::move(bias)) {
  VLLM_CHECK(method_ != nullptr, "Linear needs a method");
  VLLM_CHECK(bias_.empty() || static_cast<int64_t>(bias_.size()) == method_->out_features(),
             "bias has {} elements, expected {}", bias_.size(), method_->out_features());
}

void Linear::forward(std::span<const float> x, int64_t num_tokens, std::span<float> y) const {
  method_->apply(x, num_tokens, bias_, y);
}

void Linear::forward_max(std::span<const float> x, int64_t num_tokens,
                         std::span<float> y) const {
  const WeightMatrix* weight = method_->weight_matrix();
  if (weight == nullptr || !bias_.empty()) {
    forward(x, num_tokens, y);
    return;
  }
  ops::linear_max(x, num_tokens, *weight, y);
}

void Linear::forward_shared_input(std::span<const Linear* const> layers,
                                  std::span<const float> x, int64_t num_tokens,
                                  std::span<const std::span<float>> outputs) {
  VLLM_CHECK(layers.size() == outputs.size(), "{} layers for {} outputs", layers.size(),
             outputs.size());
  std::vector<ops::LinearProduct> products;
  for (size_t i = 0; i < layers.size(); ++i) {
    const WeightMatrix* weight = layers[i]->method_->weight_matrix();
    if (weight == nullptr) {
      layers[i]->forward(x, num_tokens, outputs[i]);
      continue;
    }
    products.push_back({weight, layers[i]->bias_, outputs[i]});
  }
  ops::linear_shared_input(x, num_tokens, products);
}

}  // namespace vllm
