// Turns engine-core outputs into RequestOutputs: incremental detokenization, logprobs
// with decoded tokens, and the fan-in of the n samples of a request (vLLM v1's
// OutputProcessor). Not thread-safe; the LLMEngine serializes calls.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/scheduler_output.h"
#include "tokenizer/tokenizer.h"
#include "vllm/outputs.h"
#include "vllm/sampling_params.h"

namespace vllm {

// The engine-core id of sample `index` of `request_id`: the id itself when n == 1, else
// "{index}_{request_id}" as vLLM names parallel-sampling children.
std::string child_request_id(const std::string& request_id, int index, int n);

class OutputProcessor {
 public:
  explicit OutputProcessor(const Tokenizer& tokenizer);

  // Registers a request and returns its engine-core ids, one per sample.
  // Precondition: request_id is not registered.
  std::vector<std::string> add_request(const std::string& request_id,
                                       std::optional<std::string> prompt,
                                       std::vector<int32_t> prompt_token_ids,
                                       const SamplingParams& params);

  // Applies outputs and returns the cumulative RequestOutput of every request that
  // advanced, in order of first appearance. Finished requests are dropped afterwards.
  std::vector<RequestOutput> process_outputs(const std::vector<EngineCoreOutput>& outputs);

  bool contains(const std::string& request_id) const { return requests_.count(request_id) > 0; }
  // Engine-core ids of a registered request's unfinished samples (empty if unknown).
  std::vector<std::string> unfinished_child_ids(const std::string& request_id) const;
  bool has_unfinished_requests() const { return !requests_.empty(); }

 private:
  struct SampleState {
    CompletionOutput output;
    std::unique_ptr<IncrementalDetokenizer> detokenizer;
  };
  struct RequestState {
    RequestOutput output;  // outputs are filled from samples when reported
    std::vector<SampleState> samples;
    std::vector<std::string> child_ids;
    bool want_logprobs = false;
  };

  void apply(RequestState& state, SampleState& sample, const EngineCoreOutput& output);
  std::map<int32_t, Logprob> to_logprob_map(const TokenLogprobs& logprobs) const;

  const Tokenizer& tokenizer_;
  std::unordered_map<std::string, RequestState> requests_;
  // engine-core id -> (request id, sample index)
  std::unordered_map<std::string, std::pair<std::string, int>> child_to_parent_;
};

}  // namespace vllm
