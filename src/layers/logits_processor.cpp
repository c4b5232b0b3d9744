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
  const auto num_max_only = std::count_if(max_only.begin(), max_only.end(),
                                          [](uint8_t flag) { return flag != 0; });
  if (num_max_only == 0) {
    lm_head.forward(selected_, num_logits, logits);
    return;
  }
  VLLM_CHECK(static_cast<int64_t>(max_only.size()) == num_logits,
             "{} max-only flags for {} logits rows", max_only.size(), num_logits);
  if (num_max_only == num_logits) {
    lm_head.forward_max(selected_, num_logits, logits);
    return;
  }
  // Mixed rows: the full ones in place of the selection, the max-only ones apart.
  const int64_t vocab_size = static_cast<int64_t>(logits.size()) / std::max<int64_t>(num_logits, 1);
  max_rows_.clear();
  int64_t num_full = 0;
  for (int64_t i = 0; i < num_logits; ++i) {
    const auto row = selected_.begin() + i * hidden_size;
    if (max_only[i] != 0) {
      max_rows_.insert(max_rows_.end(), row, row + hidden_size);
    } else {
      std::copy(row, row + hidden_size, selected_.begin() + num_full++ * hidden_size);
    }
  }
  max_logits_.resize(static_cast<size_t>(num_max_only * vocab_size));
  lm_head.forward_max(max_rows_, num_max_only, max_logits_);
  // Full rows are computed into the front of `logits`, then spread from the back.
  lm_head.forward(std::span<const float>(selected_).first(num_full * hidden_size), num_full,
                  logits.first(num_full * vocab_size));
  int64_t full_row = num_full, max_row = num_max_only;
  for (int64_t i = num_logits - 1; i >= 0; --i) {
    const float* source = max_only[i] != 0 ? max_logits_.data() + --max_row * vocab_size
                                           : logits.data() + --full_row * vocab_size;
    float* destination = logits.data() + i * vocab_size;
    if (source != destination) std::copy_n(source, vocab_size, destination);
  }
}

}  // namespace vllm
