#include "layers/logits_processor.h"

#include <algorithm>

#include "core/errors.h"

namespace vllm {

void LogitsProcessor::forward(std::span<const float> hidden, int64_t hidden_size,
                              std::span<const int32_t> indices, const Linear& lm_head,
                              std::span<float> logits) {
  const int64_t num_tokens = static_cast<int64_t>(hidden.size()) / hidden_size;
  const int64_t num_logits = static_cast<int64_t>(indices.size());
  selected_.resize(static_cast<size_t>(num_logits * hidden_size));
  for (int64_t i = 0; i < num_logits; ++i) {
    const int32_t row = indices[i];
    if (row < 0 || row >= num_tokens) {
      throw InvalidArgument(fmt::format("logits index {} is outside the batch of {} tokens", row,
                                        num_tokens));
    }
    std::copy_n(hidden.begin() + row * hidden_size, hidden_size,
                selected_.begin() + i * hidden_size);
  }
  lm_head.forward(selected_, num_logits, logits);
}

}  // namespace vllm
