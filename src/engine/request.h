// One sequence being generated, as the engine core tracks it (vLLM v1's Request).
// A prompt with n > 1 samples becomes n Requests, one per sample, before it reaches here.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <variant>
#include <vector>

#include "engine/block_hash.h"
#include "vllm/sampling_params.h"

namespace vllm {

enum class RequestStatus {
  WAITING,
  RUNNING,
  PREEMPTED,
  FINISHED_STOPPED,
  FINISHED_LENGTH_CAPPED,
  FINISHED_ABORTED,
};

bool is_finished(RequestStatus status);
// "stop", "length" or "abort" for finished states, nullopt otherwise.
std::optional<std::string> finish_reason_of(RequestStatus status);
const char* status_name(RequestStatus status);

// Derives the generator seed of sample `sample_index` of a request seeded with `seed`.
// It depends on nothing else, so a seeded request gives the same text in any batch.
uint64_t derive_sample_seed(int64_t seed, int sample_index);

class Request {
 public:
  // `max_tokens` is resolved (never nullopt here); `generator_seed` seeds the request's
  // own generator.
  Request(std::string request_id, std::vector<int32_t> prompt_token_ids,
          SamplingParams sampling_params, int64_t max_tokens,
          std::optional<int32_t> eos_token_id, uint64_t generator_seed);

  const std::string& request_id() const { return request_id_; }
  const std::vector<int32_t>& prompt_token_ids() const { return prompt_token_ids_; }
  const std::vector<int32_t>& output_token_ids() const { return output_token_ids_; }
  // Prompt then output tokens: the sequence the model computes over.
  const std::vector<int32_t>& all_token_ids() const { return all_token_ids_; }
  const SamplingParams& sampling_params() const { return sampling_params_; }
  int64_t max_tokens() const { return max_tokens_; }
  std::optional<int32_t> eos_token_id() const { return eos_token_id_; }

  int64_t num_prompt_tokens() const { return static_cast<int64_t>(prompt_token_ids_.size()); }
  int64_t num_output_tokens() const { return static_cast<int64_t>(output_token_ids_.size()); }
  int64_t num_tokens() const { return static_cast<int64_t>(all_token_ids_.size()); }

  void append_output_token(int32_t token_id);

  // Tokens whose K/V are in the cache. Reset to 0 on preemption (recompute).
  int64_t num_computed_tokens = 0;
  RequestStatus status = RequestStatus::WAITING;
  // The stop token id that ended the request; monostate for EOS, length or abort.
  std::variant<std::monostate, int32_t, std::string> stop_reason;
  int num_preemptions = 0;
  std::mt19937_64 generator;

  // Scheduling and prefix caching (set by the engine before the request is queued).
  int priority = 0;                       // lower is served first under the priority policy
  int64_t arrival_order = 0;              // set by the scheduler; breaks priority ties
  std::optional<std::string> cache_salt;  // isolates this request's prefix-cache entries
  // Forces a full prompt computation besides SamplingParams::skip_reading_prefix_cache()
  // (prompt logprobs need the logits of every prompt token, which cached blocks skip).
  bool skip_reading_prefix_cache = false;
  // Prompt tokens found in the prefix cache when first scheduled; -1 before that.
  int64_t num_cached_tokens = -1;
  // When a step first scheduled it (the end of its queue time); kept across preemption.
  std::optional<std::chrono::steady_clock::time_point> first_scheduled_time;
  // Hashes of the full blocks of all_token_ids(), extended as tokens are appended.
  std::vector<BlockHash> block_hashes;

 private:
  std::string request_id_;
  std::vector<int32_t> prompt_token_ids_;
  std::vector<int32_t> output_token_ids_;
  std::vector<int32_t> all_token_ids_;
  SamplingParams sampling_params_;
  int64_t max_tokens_;
  std::optional<int32_t> eos_token_id_;
};

}  // namespace vllm
