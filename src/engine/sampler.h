// Batched sampler: each row is sampled on its own, with its request's generator, so a
// request's tokens never depend on the other rows of the batch.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "engine/scheduler_output.h"
#include "vllm/sampling_params.h"

namespace vllm {

struct SamplingRow {
  double temperature = 1.0;  // below 1e-5: greedy
  int top_k = 0;             // 0 or -1: disabled
  double top_p = 1.0;
  double min_p = 0.0;
  int num_logprobs = -2;     // -2: none, -1: the whole vocabulary, k >= 0: top k
  std::vector<int32_t> banned_token_ids;  // masked before sampling (EOS before min_tokens)
  std::mt19937_64* generator = nullptr;   // required unless greedy
  // Source of the logits processors (allowed_token_ids, bad_words_token_ids, logit_bias and
  // the penalties); nullptr applies none. Must outlive the call.
  const SamplingParams* params = nullptr;
  std::span<const int32_t> prompt_token_ids;  // [num_prompt_tokens], for repetition_penalty
  std::span<const int32_t> output_token_ids;  // [num_output_tokens], for penalties, bad words
};

class Sampler {
 public:
  // logits: [num_rows, vocab_size] float32, row i sampled with rows[i].
  std::vector<SampledToken> sample(std::span<const float> logits, int64_t vocab_size,
                                   std::span<const SamplingRow> rows) const;

  // Samples one row; see SamplingRow. Order as in vLLM v1: logprobs from the raw logits,
  // then the logits processors (process_logits), then greedy argmax or temperature, min_p,
  // top_k, top_p and a draw.
  static SampledToken sample_row(std::span<const float> logits, const SamplingRow& row);
};

// Returns a row's logits after the logits processors, in vLLM v1's order: allowed token ids,
// bad words, banned tokens (min_tokens), logit bias, then repetition, frequency and presence
// penalties.
std::vector<float> process_logits(std::span<const float> logits, const SamplingRow& row);

// Returns whether sampling the row reads only its largest logits: greedy, without logits
// processing or logprobs. Its other logits may then be -inf (LogitsProcessor::forward).
bool samples_largest_only(const SamplingRow& row);

// Returns the logprobs entry of `token` and the `num_logprobs` most likely tokens (-1: the
// whole vocabulary) from one row of raw logits ([vocab_size]).
TokenLogprobs compute_token_logprobs(std::span<const float> logits, int32_t token,
                                     int num_logprobs);

// Returns the probabilities the sampler draws from for one row (0 for masked tokens),
// after the logits processors, temperature, min_p, top_k and top_p; for tests and debugging.
std::vector<double> sampling_probs(std::span<const float> logits, const SamplingRow& row);

// log_softmax of `logits` in double precision.
std::vector<double> log_softmax(std::span<const float> logits);

}  // namespace vllm
