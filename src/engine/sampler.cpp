#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/errors.h"
#include "engine/logits_processors.h"

namespace vllm {
namespace {

constexpr double kGreedyEpsilon = 1e-5;  // as vLLM's _SAMPLING_EPS

// Greedy choice: the highest logit, the lowest token id on ties; masked (-inf) tokens are
// never chosen.
int32_t argmax(std::span<const float> logits) {
  // The largest value in 16 independent lanes, which the compiler vectorizes, then its
  // first index. A branchy scalar scan of a 262,144-token row costs an estimated 0.1 to 0.2
  // ms per token.
  constexpr size_t kLanes = 16;
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  float lane_max[kLanes];
  std::fill(std::begin(lane_max), std::end(lane_max), kNegInf);
  const size_t vector_end = logits.size() / kLanes * kLanes;
  for (size_t i = 0; i < vector_end; i += kLanes) {
    for (size_t j = 0; j < kLanes; ++j) {
      lane_max[j] = logits[i + j] > lane_max[j] ? logits[i + j] : lane_max[j];
    }
  }
  float best_value = kNegInf;
  for (float value : lane_max) best_value = value > best_value ? value : best_value;
  for (size_t i = vector_end; i < logits.size(); ++i) {
    best_value = logits[i] > best_value ? logits[i] : best_value;
  }
  if (best_value > kNegInf) {
    for (size_t i = 0;; ++i) {
      if (logits[i] == best_value) return static_cast<int32_t>(i);
    }
  }
  // Every value is -inf or NaN: the first that is not -inf, as a strict scan would pick.
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] != kNegInf) return static_cast<int32_t>(i);
  }
  VLLM_CHECK(false, "every token of the vocabulary is masked");
  return -1;
}

// Token ids ordered by descending probability, ties by ascending id, so the order is a
// function of the values alone.
std::vector<int32_t> order_by_prob(const std::vector<double>& probs) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] > 0.0) order.push_back(static_cast<int32_t>(i));
  }
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return probs[a] != probs[b] ? probs[a] > probs[b] : a < b;
  });
  return order;
}

void renormalize(std::vector<double>& probs) {
  double total = 0.0;
  for (double p : probs) total += p;
  for (double& p : probs) p /= total;
}

// Uniform double in [0, 1) from the top 53 bits of one generator draw; unlike
// std::uniform_real_distribution it is the same on every standard library.
double uniform01(std::mt19937_64& generator) {
  return static_cast<double>(generator() >> 11) * 0x1.0p-53;
}

}  // namespace

TokenLogprobs compute_token_logprobs(std::span<const float> logits, int32_t sampled,
                                     int num_logprobs) {
  const std::vector<double> logprobs = log_softmax(logits);
  auto rank_of = [&](int32_t token) {
    int32_t num_greater = 0;
    for (double value : logprobs) num_greater += value > logprobs[token] ? 1 : 0;
    return num_greater + 1;
  };

  TokenLogprobs result;
  result.token_ids.push_back(sampled);
  result.logprobs.push_back(logprobs[sampled]);
  result.ranks.push_back(rank_of(sampled));

  const size_t vocab_size = logprobs.size();
  const size_t num_top = num_logprobs < 0 ? vocab_size
                                          : std::min<size_t>(num_logprobs, vocab_size);
  std::vector<int32_t> order(vocab_size);
  std::iota(order.begin(), order.end(), 0);
  auto by_logprob = [&](int32_t a, int32_t b) {
    return logprobs[a] != logprobs[b] ? logprobs[a] > logprobs[b] : a < b;
  };
  std::partial_sort(order.begin(), order.begin() + num_top, order.end(), by_logprob);
  for (size_t i = 0; i < num_top; ++i) {
    const int32_t token = order[i];
    result.token_ids.push_back(token);
    result.logprobs.push_back(logprobs[token]);
    // In descending order, ties share the rank of the first of them.
    int32_t rank = static_cast<int32_t>(i) + 1;
    if (i > 0 && logprobs[order[i - 1]] == logprobs[token]) rank = result.ranks.back();
    result.ranks.push_back(rank);
  }
  return result;
}

// Whether any step of process_logits can change this row's logits.
bool needs_processing(const SamplingRow& row) {
  if (!row.banned_token_ids.empty()) return true;
  const SamplingParams* params = row.params;
  if (params == nullptr) return false;
  const Penalties penalties{params->repetition_penalty, params->frequency_penalty,
                            params->presence_penalty};
  return params->allowed_token_ids.has_value() || !params->bad_words_token_ids.empty() ||
         !params->logit_bias.empty() || penalties.enabled();
}

std::vector<float> process_logits(std::span<const float> logits, const SamplingRow& row) {
  std::vector<float> processed(logits.begin(), logits.end());
  const SamplingParams* params = row.params;
  if (params != nullptr && params->allowed_token_ids.has_value()) {
    apply_allowed_token_ids(processed, *params->allowed_token_ids);
  }
  if (params != nullptr && !params->bad_words_token_ids.empty()) {
    apply_bad_words(processed, params->bad_words_token_ids, row.output_token_ids);
  }
  apply_token_mask(processed, row.banned_token_ids);
  if (params != nullptr && !params->logit_bias.empty()) {
    apply_logit_bias(processed, params->logit_bias);
  }
  if (params != nullptr) {
    const Penalties penalties{params->repetition_penalty, params->frequency_penalty,
                              params->presence_penalty};
    apply_penalties(processed, penalties, row.prompt_token_ids, row.output_token_ids);
  }
  return processed;
}

std::vector<double> log_softmax(std::span<const float> logits) {
  double max_value = -std::numeric_limits<double>::infinity();
  for (float value : logits) max_value = std::max<double>(max_value, value);
  double sum = 0.0;
  for (float value : logits) sum += std::exp(static_cast<double>(value) - max_value);
  const double log_sum = max_value + std::log(sum);
  std::vector<double> result(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) result[i] = static_cast<double>(logits[i]) - log_sum;
  return result;
}

std::vector<double> sampling_probs(std::span<const float> raw_logits, const SamplingRow& row) {
  const std::vector<float> logits = process_logits(raw_logits, row);
  const size_t vocab_size = logits.size();
  std::vector<double> probs(vocab_size, 0.0);

  // Temperature, then softmax over the tokens not masked.
  std::vector<bool> allowed(vocab_size, true);
  for (size_t i = 0; i < vocab_size; ++i) {
    allowed[i] = logits[i] != -std::numeric_limits<float>::infinity();
  }
  double max_value = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < vocab_size; ++i) {
    if (allowed[i]) max_value = std::max(max_value, logits[i] / row.temperature);
  }
  VLLM_CHECK(std::isfinite(max_value), "every token of the vocabulary is masked");
  for (size_t i = 0; i < vocab_size; ++i) {
    if (allowed[i]) probs[i] = std::exp(logits[i] / row.temperature - max_value);
  }
  renormalize(probs);

  // min_p: drop tokens below min_p times the largest probability.
  if (row.min_p > 0.0) {
    const double threshold = row.min_p * *std::max_element(probs.begin(), probs.end());
    for (double& p : probs) {
      if (p < threshold) p = 0.0;
    }
    renormalize(probs);
  }

  // top_k: keep the k most probable tokens.
  std::vector<int32_t> order = order_by_prob(probs);
  if (row.top_k > 0 && static_cast<size_t>(row.top_k) < order.size()) {
    for (size_t i = static_cast<size_t>(row.top_k); i < order.size(); ++i) probs[order[i]] = 0.0;
    order.resize(static_cast<size_t>(row.top_k));
    renormalize(probs);
  }

  // top_p: keep the smallest prefix of the ordered tokens whose mass reaches top_p.
  if (row.top_p < 1.0) {
    double mass_before = 0.0;
    for (size_t i = 0; i < order.size(); ++i) {
      if (i > 0 && mass_before >= row.top_p) probs[order[i]] = 0.0;
      mass_before += probs[order[i]];
    }
    renormalize(probs);
  }
  return probs;
}

SampledToken Sampler::sample_row(std::span<const float> logits, const SamplingRow& row) {
  SampledToken result;
  if (row.temperature < kGreedyEpsilon) {
    // Greedy rows without logits processing read the logits in place, without a copy.
    result.token_id =
        needs_processing(row) ? argmax(process_logits(logits, row)) : argmax(logits);
  } else {
    VLLM_CHECK(row.generator != nullptr, "a random-sampling row has no generator");
    const std::vector<double> probs = sampling_probs(logits, row);
    // One draw per token, walked over token ids in ascending order: the choice depends
    // only on the probabilities and the generator state.
    const double target = uniform01(*row.generator);
    double cumulative = 0.0;
    int32_t chosen = -1;
    for (size_t i = 0; i < probs.size(); ++i) {
      if (probs[i] <= 0.0) continue;
      chosen = static_cast<int32_t>(i);
      cumulative += probs[i];
      if (target < cumulative) break;
    }
    VLLM_CHECK(chosen >= 0, "no token has a positive probability");
    result.token_id = chosen;
  }
  if (row.num_logprobs >= -1) {
    // vLLM's default logprobs_mode, raw_logprobs: from the logits before any processing.
    result.logprobs = compute_token_logprobs(logits, result.token_id, row.num_logprobs);
  }
  return result;
}

std::vector<SampledToken> Sampler::sample(std::span<const float> logits, int64_t vocab_size,
                                          std::span<const SamplingRow> rows) const {
  VLLM_CHECK(logits.size() == rows.size() * static_cast<size_t>(vocab_size),
             "logits hold {} values for {} rows of {} tokens", logits.size(), rows.size(),
             vocab_size);
  std::vector<SampledToken> result;
  result.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    result.push_back(sample_row(logits.subspan(i * vocab_size, vocab_size), rows[i]));
  }
  return result;
}

}  // namespace vllm
