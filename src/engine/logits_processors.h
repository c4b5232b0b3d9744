// Per-request logits processors applied before sampling, in vLLM v1's order: allowed token
// ids, bad words, min_tokens, logit bias, then penalties. Each edits one row of logits
// ([vocab_size] float32) in place; masked tokens get -inf.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

namespace vllm {

// Masks every token not in `allowed_token_ids`.
void apply_allowed_token_ids(std::span<float> logits, const std::vector<int32_t>& allowed_token_ids);

// Masks the last token of each bad word whose other tokens end `output_token_ids` (a
// one-token bad word is always masked).
void apply_bad_words(std::span<float> logits,
                     const std::vector<std::vector<int32_t>>& bad_words_token_ids,
                     std::span<const int32_t> output_token_ids);

// Masks `token_ids` (EOS and stop_token_ids while fewer than min_tokens were generated).
void apply_token_mask(std::span<float> logits, std::span<const int32_t> token_ids);

// Adds each bias to its token's logit.
void apply_logit_bias(std::span<float> logits, const std::map<int32_t, double>& logit_bias);

struct Penalties {
  double repetition_penalty = 1.0;
  double frequency_penalty = 0.0;
  double presence_penalty = 0.0;
  bool enabled() const {
    return repetition_penalty != 1.0 || frequency_penalty != 0.0 || presence_penalty != 0.0;
  }
};

// Applies the repetition penalty to tokens seen in the prompt or the output (positive
// logits divided by it, others multiplied), then subtracts frequency_penalty times each
// token's count in the output and presence_penalty once per token present in the output.
void apply_penalties(std::span<float> logits, const Penalties& penalties,
                     std::span<const int32_t> prompt_token_ids,
                     std::span<const int32_t> output_token_ids);

}  // namespace vllm
