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
  // Where max_only[i] is set, row i needs only its largest logits (greedy sampling): a logit
  // that may be the row's maximum is exact, any other exact or -inf (Linear::forward_max).
  // With an empty max_only, every row is computed in full.
  void forward(std::span<const float> hidden, int64_t hidden_size,
               std::span<const int32_t> indices,  // [num_logits] rows of `hidden`
               const Linear& lm_head, std::span<float> logits,
               std::span<const uint8_t> max_only = {});  // [num_logits] or empty

 private:
  std::vector<float> selected_;  // [num_logits, hidden_size], reused between steps
  std::vector<float> max_rows_;  // [rows with max_only, hidden_size], then their logits
  std::vector<float> max_logits_;
};

}  // namespace vllm
