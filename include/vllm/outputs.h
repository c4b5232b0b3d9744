// Results returned to frontends, mirroring vLLM's RequestOutput and CompletionOutput.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace vllm {

struct Logprob {
  double logprob;
  int rank;                   // 1-based rank among the vocabulary
  std::string decoded_token;
};

// One map per generated token: token id -> Logprob (the sampled token plus the top ones).
using SampleLogprobs = std::vector<std::map<int32_t, Logprob>>;
// One entry per prompt token: nullopt for the first (nothing precedes it), then the prompt
// token's logprob given the tokens before it, plus the top ones.
using PromptLogprobs = std::vector<std::optional<std::map<int32_t, Logprob>>>;

struct CompletionOutput {
  int index = 0;
  std::string text;
  std::vector<int32_t> token_ids;
  double cumulative_logprob = 0.0;    // meaningful when logprobs were requested
  std::optional<SampleLogprobs> logprobs;
  std::optional<std::string> finish_reason;  // "stop", "length", "abort"
  // The stop token id or stop string that ended the sequence; nullopt for EOS or length.
  std::variant<std::monostate, int32_t, std::string> stop_reason;
  bool finished() const { return finish_reason.has_value(); }
};

// Timings of one request, as vLLM's RequestMetrics, in Unix time in seconds. The engine
// measures them on a monotonic clock anchored at arrival, so their differences stay exact
// even if the wall clock jumps. Each is unset until its event happened.
struct RequestMetrics {
  double arrival_time = 0.0;                 // when the engine received the request
  std::optional<double> first_scheduled_time;  // when a step first computed its tokens
  std::optional<double> first_token_time;    // when its first output token was reported
  std::optional<double> last_token_time;     // when its latest output token was reported
  std::optional<double> finished_time;       // when it finished (any finish reason)
  // Seconds from arrival to first scheduling (first_scheduled_time - arrival_time).
  std::optional<double> time_in_queue;
};

struct RequestOutput {
  std::string request_id;
  std::optional<std::string> prompt;
  std::vector<int32_t> prompt_token_ids;
  std::optional<PromptLogprobs> prompt_logprobs;  // set when prompt_logprobs was requested
  int num_cached_tokens = 0;
  std::vector<CompletionOutput> outputs;  // one per sample, ordered by index
  bool finished = false;
  // The failure that ended the request inside the engine (its finish_reason is "abort");
  // nullopt otherwise. Not a vLLM field.
  std::optional<std::string> error;
  RequestMetrics metrics;
};

}  // namespace vllm
