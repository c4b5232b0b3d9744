// Sampling parameters of one request, with vLLM's names, defaults and validation rules.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace vllm {

struct SamplingParams {
  int n = 1;
  double temperature = 1.0;   // 0 means greedy
  double top_p = 1.0;         // in (0, 1]
  int top_k = 0;              // 0 or -1 disables
  double min_p = 0.0;         // in [0, 1]
  std::optional<int64_t> seed;
  std::optional<int> max_tokens = 16;  // nullopt: up to max_model_len
  int min_tokens = 0;
  std::vector<int32_t> stop_token_ids;
  bool ignore_eos = false;
  std::optional<int> logprobs;  // number of top logprobs per generated token
  bool skip_special_tokens = true;

  // Throws InvalidArgument naming the first invalid field and its value, with vLLM's rules.
  void validate() const;
  bool is_greedy() const { return temperature < 1e-5; }
};

}  // namespace vllm
