// Turns a SchedulerOutput into a flattened ForwardBatch, runs the model and samples.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/sampler.h"
#include "engine/scheduler_output.h"
#include "models/model.h"

namespace vllm {

class ModelRunner {
 public:
  // `model` and `kv_cache` must outlive the runner.
  ModelRunner(Model& model, KVCache& kv_cache);

  // Builds the batch of one step. A scheduled request whose new tokens reach the end of
  // its known tokens samples this step: its last new token is listed in logits_indices,
  // in scheduling order. `sampling_requests` receives those requests.
  ForwardBatch build_batch(const SchedulerOutput& scheduler_output,
                           std::vector<Request*>* sampling_requests) const;

  // Runs the step and returns the sampled token of every request that samples.
  ModelRunnerOutput execute(const SchedulerOutput& scheduler_output);

 private:
  Model& model_;
  KVCache& kv_cache_;
  Sampler sampler_;
  std::vector<float> logits_;  // [num_logits, vocab_size], reused across steps
};

// Builds the sampler settings of one request for its next token.
SamplingRow make_sampling_row(Request& request);

}  // namespace vllm
