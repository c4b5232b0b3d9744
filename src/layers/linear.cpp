#include "layers/linear.h"

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

}  // namespace vllm
