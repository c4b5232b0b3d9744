// Turns engine-core outputs into RequestOutputs: incremental detokenization, stop strings,
// logprobs with decoded tokens, and the fan-in of the n samples of a request (vLLM v1's
// OutputProcessor). Not thread-safe; the LLMEngine serializes calls.
//
// Stop strings end a sample here, after detokenization, so the engine core keeps generating
// until the caller aborts the ids that take_stopped_child_ids returns. While a sample runs,
// its text omits the last output_text_buffer_length() characters, so that no part of a stop
// string is ever reported.
#pragma once

#include <chrono>
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
  // Engine-core ids of samples that a stop string ended since the last call; the engine
  // core still runs them until they are aborted.
  std::vector<std::string> take_stopped_child_ids();

 private:
  struct SampleState {
    CompletionOutput output;  // text is the reportable text; see full_text
    std::unique_ptr<IncrementalDetokenizer> detokenizer;
    std::string full_text;  // all detokenized text, cut at a stop string once matched
    // How much of the output was already reported, for RequestOutputKind::DELTA.
    size_t num_reported_text_bytes = 0;
    size_t num_reported_tokens = 0;
  };
  struct RequestState {
    RequestOutput output;  // outputs are filled from samples when reported
    std::vector<SampleState> samples;
    std::vector<std::string> child_ids;
    SamplingParams params;
    bool want_logprobs = false;
    bool prompt_logprobs_reported = false;
    // When add_request ran; output.metrics.arrival_time is the same instant in Unix time.
    std::chrono::steady_clock::time_point arrival;
  };

  void apply(RequestState& state, int index, const EngineCoreOutput& output);
  void check_stop_strings_of(RequestState& state, int index, size_t num_new_bytes,
                             bool finished_by_core);
  RequestOutput make_request_output(RequestState& state);
  // Unix time in seconds of `time`, anchored at the request's arrival.
  static double unix_time_of(const RequestState& state, std::chrono::steady_clock::time_point time);
  std::map<int32_t, Logprob> to_logprob_map(const TokenLogprobs& logprobs) const;

  const Tokenizer& tokenizer_;
  std::unordered_map<std::string, RequestState> requests_;
  // engine-core id -> (request id, sample index)
  std::unordered_map<std::string, std::pair<std::string, int>> child_to_parent_;
  std::vector<std::string> stopped_child_ids_;
};

}  // namespace vllm
