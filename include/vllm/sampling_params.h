// Sampling parameters of one request, with vLLM's names, defaults and validation rules.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vllm {

// How RequestOutputs report progress (vLLM's RequestOutputKind).
enum class RequestOutputKind {
  CUMULATIVE,  // every output carries all text and tokens so far
  DELTA,       // every output carries only what is new since the previous one
  FINAL_ONLY,  // a single output when the request finishes
};

struct SamplingParams {
  int n = 1;
  double presence_penalty = 0.0;    // in [-2, 2]; subtracted once per token seen in the output
  double frequency_penalty = 0.0;   // in [-2, 2]; subtracted per occurrence in the output
  double repetition_penalty = 1.0;  // > 0; divides positive and multiplies negative logits of
                                    // tokens seen in the prompt or the output
  double temperature = 1.0;   // 0 means greedy
  double top_p = 1.0;         // in (0, 1]
  int top_k = 0;              // 0 or -1 disables
  double min_p = 0.0;         // in [0, 1]
  std::optional<int64_t> seed;
  std::vector<std::string> stop;  // stop strings, matched on the detokenized output
  std::vector<int32_t> stop_token_ids;
  // Words that may not be generated: the last token of a word's tokenization is masked when
  // the output so far ends with the tokens before it.
  std::vector<std::string> bad_words;
  bool include_stop_str_in_output = false;
  bool ignore_eos = false;
  std::optional<int> max_tokens = 16;  // nullopt: up to max_model_len
  // Until min_tokens tokens exist, EOS and stop_token_ids are masked; stop strings are
  // checked only once the output has more than min_tokens tokens, as in vLLM.
  int min_tokens = 0;
  std::optional<int> logprobs;  // number of top logprobs per generated token; -1: vocabulary
  // Number of top logprobs per prompt token (besides the prompt token's own); -1: vocabulary.
  std::optional<int> prompt_logprobs;
  bool detokenize = true;
  bool skip_special_tokens = true;
  // NOTE: has no effect with byte-level BPE tokenizers, as with HF fast tokenizers.
  bool spaces_between_special_tokens = true;
  RequestOutputKind output_kind = RequestOutputKind::CUMULATIVE;
  // Token id -> value added to its logit. Used as given, as vLLM's SamplingParams does;
  // OpenAI-compatible frontends clamp values with clamp_logit_bias first.
  std::map<int32_t, double> logit_bias;
  std::optional<std::vector<int32_t>> allowed_token_ids;  // only these may be sampled
  // Keep only the last k prompt tokens; -1 keeps the last max_model_len tokens.
  std::optional<int> truncate_prompt_tokens;

  // Token ids of each bad word, with and without a leading space, filled by the engine from
  // the tokenizer (vLLM's update_from_tokenizer). Not a caller input.
  std::vector<std::vector<int32_t>> bad_words_token_ids;

  // Throws InvalidArgument naming the first invalid field and its value, with vLLM's rules.
  void validate() const;
  bool is_greedy() const { return temperature < 1e-5; }
  // Prompt logprobs need every prompt position computed, so cached blocks may not be reused.
  bool skip_reading_prefix_cache() const { return prompt_logprobs.has_value(); }
  // Characters of output text held back while streaming so that no part of a stop string
  // is ever reported: the longest stop string's length minus 1, or 0 when stop strings are
  // included in the output.
  int output_text_buffer_length() const;
};

// Clamps each bias to [-100, 100], as vLLM's OpenAI-compatible server does.
std::map<int32_t, double> clamp_logit_bias(const std::map<int32_t, double>& logit_bias);

}  // namespace vllm
