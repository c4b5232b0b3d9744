// Logits of selected tokens: picks the hidden rows whose logits the sampler needs, then
// applies the LM head to those rows only.
#pragma once

#include <span>
#include <vector>

#include "layers/linear.h"

namespace vllm {

class LogitsProcessor {
 public:
  // Computes logits [indices.size(), vocab_size] from hidden [num_tokens, hidden_size].
  // max_only[i] set: row i needs only its largest logits (greedy sampling). When every row
  // is so marked, a logit that may be its row's maximum is exact, and any other is exact or
  // -inf (Linear::forward_max). Otherwise, and with an empty max_only, every logit is exact.
  void forward(std::span<const float> hidden, int64_t hidden_size,
               std::span<const int32_t> indices,  // [num_logits] rows of `hidden`
               const Linear& lm_head, std::span<float> logits,
               std::span<const uint8_t> max_only = {});  // [num_logits] or empty

 private:
  std::vector<float> selected_;  // [num_logits, hidden_size], reused between steps
};

}  // namespace vllm
