// Turns a SchedulerOutput into a flattened ForwardBatch, runs the model and samples.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/sampler.h"
#include "engine/scheduler_output.h"
#include "models/model.h"

namespace vllm {

// Logits rows of one request's prompt positions, for prompt_logprobs: row first_row + i contains
// the logits at position first_position + i, which score prompt token first_position + i + 1.
struct PromptLogitsRows {
  Request* request = nullptr;
  int64_t first_position = 0;
  int32_t first_row = 0;
  int32_t num_rows = 0;
};

// Assignment of a step's logits rows: the rows that sample and the rows that score prompt tokens.
struct LogitsLayout {
  std::vector<int32_t> sample_rows;  // [num_sampling_requests] row of each sampling request
  std::vector<PromptLogitsRows> prompt_rows;
};

class ModelRunner {
 public:
  // `model` and `kv_cache` must outlive the runner.
  ModelRunner(Model& model, KVCache& kv_cache);

  // Builds the batch of one step. A scheduled request whose new tokens reach the end of
  // its known tokens samples this step: its last new token is listed in logits_indices,
  // in scheduling order. `sampling_requests` receives those requests. A request that wants
  // prompt_logprobs also lists its new prompt positions (except the last prompt token),
  // before its sampling position; `layout` receives where each kind of row is.
  ForwardBatch build_batch(const SchedulerOutput& scheduler_output,
                           std::vector<Request*>* sampling_requests,
                           LogitsLayout* layout = nullptr) const;

  // Runs the step and returns the sampled token of every request that samples.
  ModelRunnerOutput execute(const SchedulerOutput& scheduler_output);

 private:
  // Scores the prompt tokens of `prompt_rows` from this step's logits_ (raw logprobs).
  std::unordered_map<std::string, PromptLogprobsChunk> compute_prompt_logprobs(
      const std::vector<PromptLogitsRows>& prompt_rows, int64_t vocab_size) const;

  Model& model_;
  KVCache& kv_cache_;
  Sampler sampler_;
  std::vector<float> logits_;  // [num_logits, vocab_size], reused across steps
  std::vector<float> sample_logits_;  // [num_sampling_requests, vocab_size], when they differ
};

// Builds the sampler settings of one request for its next token.
SamplingRow make_sampling_row(Request& request);

}  // namespace vllm
