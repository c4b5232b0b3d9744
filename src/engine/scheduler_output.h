// What flows between the scheduler, the model runner and the engine core in one step.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/request.h"

namespace vllm {

struct ScheduledRequest {
  Request* request = nullptr;    // owned by the scheduler; valid until update_from_output
  int64_t num_new_tokens = 0;    // tokens from request->num_computed_tokens on
  std::vector<int32_t> block_ids;  // [num_blocks] the whole block table after allocation
};

struct SchedulerOutput {
  std::vector<ScheduledRequest> scheduled;  // running requests first, then admitted ones
  int64_t total_num_scheduled_tokens = 0;
  std::vector<std::string> preempted_request_ids;
  bool empty() const { return scheduled.empty(); }
};

// Logprobs of one generated token. Entry 0 is the sampled token, then the top
// `num_logprobs` tokens by logprob (the sampled token may appear twice, as in vLLM).
struct TokenLogprobs {
  std::vector<int32_t> token_ids;
  std::vector<double> logprobs;  // log_softmax of the raw logits
  std::vector<int32_t> ranks;    // 1-based rank among the vocabulary
};

struct SampledToken {
  int32_t token_id = 0;
  std::optional<TokenLogprobs> logprobs;
};

// Logprobs of consecutive prompt tokens computed in one step: entry i is the logprob of
// prompt token first_position + 1 + i given the tokens before it.
struct PromptLogprobsChunk {
  int64_t first_position = 0;
  std::vector<TokenLogprobs> logprobs;
};

// Tokens sampled in one step, only for requests whose prefill reached its end.
struct ModelRunnerOutput {
  std::unordered_map<std::string, SampledToken> sampled;  // request id -> token
  // request id -> prompt logprobs of this step's prompt tokens, for requests that want them
  std::unordered_map<std::string, PromptLogprobsChunk> prompt_logprobs;
};

// What the engine core reports about one request after a step (or an abort).
struct EngineCoreOutput {
  std::string request_id;
  std::vector<int32_t> new_token_ids;
  std::vector<TokenLogprobs> new_logprobs;  // one per new token when logprobs were requested
  // Logprobs of prompt tokens 1 .. num_prompt_tokens - 1, on the first output of a request
  // that asked for prompt_logprobs.
  std::optional<std::vector<TokenLogprobs>> prompt_logprobs;
  std::optional<std::string> finish_reason;  // "stop", "length", "abort"
  std::variant<std::monostate, int32_t, std::string> stop_reason;
  int num_cached_tokens = 0;
  std::optional<std::string> error;  // set when a failure inside the engine ended the request
  // When a step first scheduled the request; unset for a request aborted while waiting.
  std::optional<std::chrono::steady_clock::time_point> first_scheduled_time;
  bool finished() const { return finish_reason.has_value(); }
};

}  // namespace vllm
