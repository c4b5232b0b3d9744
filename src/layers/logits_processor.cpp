#include "layers/logits_processor.h"

#include <algorithm>

#include "core/errors.h"

namespace vllm {

void LogitsProcessor::forward(std::span<const float> hidden, int64_t hidden_size,
                              std::span<const int32_t> indices, const Linear& lm_head,
                              std::span<float> logits, std::span<const uint8_t> max_only) {
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
  // A mixed step computes every row in full: splitting it would stream the LM head twice and
  // keep a second logits buffer (66 MB for 63 rows of a 262,144-token vocabulary).
  const bool all_max_only =
      num_logits > 0 && static_cast<int64_t>(max_only.size()) == num_logits &&
      std::all_of(max_only.begin(), max_only.end(), [](uint8_t flag) { return flag != 0; });
  if (all_max_only) {
    lm_head.forward_max(selected_, num_logits, logits);
  } else {
    lm_head.forward(selected_, num_logits, logits);
  }
}

}  // namespace vllm
