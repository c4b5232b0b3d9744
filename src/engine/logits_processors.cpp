#include "engine/logits_processors.h"

#include <algorithm>
#include <limits>

namespace vllm {
namespace {

constexpr float kMasked = -std::numeric_limits<float>::infinity();

bool in_vocab(int32_t token, std::span<float> logits) {
  return token >= 0 && static_cast<size_t>(token) < logits.size();
}

}  // namespace

void apply_allowed_token_ids(std::span<float> logits,
                             const std::vector<int32_t>& allowed_token_ids) {
  std::vector<bool> allowed(logits.size(), false);
  for (int32_t token : allowed_token_ids) {
    if (in_vocab(token, logits)) allowed[token] = true;
  }
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!allowed[i]) logits[i] = kMasked;
  }
}

void apply_bad_words(std::span<float> logits,
                     const std::vector<std::vector<int32_t>>& bad_words_token_ids,
                     std::span<const int32_t> output_token_ids) {
  for (const std::vector<int32_t>& bad_word : bad_words_token_ids) {
    if (bad_word.empty()) continue;
    const size_t prefix_length = bad_word.size() - 1;
    if (prefix_length > output_token_ids.size()) continue;
    const auto past = output_token_ids.last(prefix_length);
    if (!std::equal(past.begin(), past.end(), bad_word.begin())) continue;
    if (in_vocab(bad_word.back(), logits)) logits[bad_word.back()] = kMasked;
  }
}

void apply_token_mask(std::span<float> logits, std::span<const int32_t> token_ids) {
  for (int32_t token : token_ids) {
    if (in_vocab(token, logits)) logits[token] = kMasked;
  }
}

void apply_logit_bias(std::span<float> logits, const std::map<int32_t, double>& logit_bias) {
  for (const auto& [token, bias] : logit_bias) {
    if (in_vocab(token, logits)) logits[token] += static_cast<float>(bias);
  }
}

void apply_penalties(std::span<float> logits, const Penalties& penalties,
                     std::span<const int32_t> prompt_token_ids,
                     std::span<const int32_t> output_token_ids) {
  if (!penalties.enabled()) return;
  const size_t vocab_size = logits.size();
  std::vector<int32_t> output_counts(vocab_size, 0);
  for (int32_t token : output_token_ids) {
    if (in_vocab(token, logits)) ++output_counts[token];
  }

  if (penalties.repetition_penalty != 1.0) {
    std::vector<bool> seen(vocab_size, false);
    for (int32_t token : prompt_token_ids) {
      if (in_vocab(token, logits)) seen[token] = true;
    }
    const float penalty = static_cast<float>(penalties.repetition_penalty);
    for (size_t i = 0; i < vocab_size; ++i) {
      if (!seen[i] && output_counts[i] == 0) continue;
      logits[i] = logits[i] > 0.0f ? logits[i] / penalty : logits[i] * penalty;
    }
  }

  const float frequency = static_cast<float>(penalties.frequency_penalty);
  const float presence = static_cast<float>(penalties.presence_penalty);
  for (size_t i = 0; i < vocab_size; ++i) {
    if (output_counts[i] == 0) continue;
    logits[i] -= frequency * static_cast<float>(output_counts[i]);
    logits[i] -= presence;
  }
}

}  // namespace vllm
