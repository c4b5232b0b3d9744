// SamplingParams::validate with the rules and messages of vLLM v0.26
// (vllm/sampling_params.py, _verify_args and _verify_greedy_sampling).
#include "vllm/sampling_params.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/errors.h"

namespace vllm {
namespace {

// Formats a float as Python's repr does (1.5, -1.0, inf), so messages read as vLLM's.
std::string python_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

// Number of Unicode code points of UTF-8 `text` (continuation bytes are not counted), so
// lengths match Python's len() on str.
int count_code_points(const std::string& text) {
  int count = 0;
  for (unsigned char byte : text) count += (byte & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

// Formats a list as Python's repr of a list of str does, for messages that quote one.
std::string python_str_list(const std::vector<std::string>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ", ";
    text += "'" + values[i] + "'";
  }
  return text + "]";
}

}  // namespace

int SamplingParams::output_text_buffer_length() const {
  if (stop.empty() || include_stop_str_in_output) return 0;
  int max_length = 0;
  for (const std::string& stop_str : stop) {
    max_length = std::max(max_length, count_code_points(stop_str));
  }
  return std::max(0, max_length - 1);
}

std::map<int32_t, double> clamp_logit_bias(const std::map<int32_t, double>& logit_bias) {
  std::map<int32_t, double> result;
  for (const auto& [token, bias] : logit_bias) result[token] = std::clamp(bias, -100.0, 100.0);
  return result;
}

void SamplingParams::validate() const {
  if (n < 1) throw InvalidArgument(fmt::format("n must be at least 1, got {}.", n));
  if (!(presence_penalty >= -2.0 && presence_penalty <= 2.0)) {
    throw InvalidArgument(fmt::format("presence_penalty must be in [-2, 2], got {}.",
                                      python_float(presence_penalty)));
  }
  if (!(frequency_penalty >= -2.0 && frequency_penalty <= 2.0)) {
    throw InvalidArgument(fmt::format("frequency_penalty must be in [-2, 2], got {}.",
                                      python_float(frequency_penalty)));
  }
  if (!std::isfinite(repetition_penalty)) {
    throw InvalidArgument(fmt::format("repetition_penalty must be a finite number, got {}.",
                                      python_float(repetition_penalty)));
  }
  if (repetition_penalty <= 0.0) {
    throw InvalidArgument(fmt::format("repetition_penalty must be greater than zero, got {}.",
                                      python_float(repetition_penalty)));
  }
  if (!std::isfinite(temperature)) {
    throw InvalidArgument(
        fmt::format("temperature must be a finite number, got {}.", python_float(temperature)));
  }
  if (temperature < 0.0) {
    throw InvalidArgument(
        fmt::format("temperature must be non-negative, got {}.", python_float(temperature)));
  }
  if (temperature > 2.0) {
    throw InvalidArgument(
        fmt::format("temperature must be in [0, 2], got {}.", python_float(temperature)));
  }
  if (!(top_p > 0.0 && top_p <= 1.0)) {
    throw InvalidArgument(fmt::format("top_p must be in (0, 1], got {}.", python_float(top_p)));
  }
  if (top_k < -1) {
    throw InvalidArgument(
        fmt::format("top_k must be 0 (disable), or at least 1, got {}.", top_k));
  }
  if (!(min_p >= 0.0 && min_p <= 1.0)) {
    throw InvalidArgument(fmt::format("min_p must be in [0, 1], got {}.", python_float(min_p)));
  }
  if (max_tokens.has_value() && *max_tokens < 1) {
    throw InvalidArgument(fmt::format("max_tokens must be at least 1, got {}.", *max_tokens));
  }
  if (min_tokens < 0) {
    throw InvalidArgument(fmt::format(
        "min_tokens must be greater than or equal to 0, got {}.", min_tokens));
  }
  if (max_tokens.has_value() && min_tokens > *max_tokens) {
    throw InvalidArgument(fmt::format(
        "min_tokens must be less than or equal to max_tokens={}, got {}.", *max_tokens,
        min_tokens));
  }
  if (logprobs.has_value() && *logprobs != -1 && *logprobs < 0) {
    throw InvalidArgument(
        fmt::format("logprobs must be non-negative or -1, got {}.", *logprobs));
  }
  if (prompt_logprobs.has_value() && *prompt_logprobs != -1 && *prompt_logprobs < 0) {
    throw InvalidArgument(
        fmt::format("prompt_logprobs must be non-negative or -1, got {}.", *prompt_logprobs));
  }
  for (const std::string& stop_str : stop) {
    if (stop_str.empty()) throw InvalidArgument("stop cannot contain an empty string.");
  }
  if (!stop.empty() && !detokenize) {
    throw InvalidArgument(
        "stop strings are only supported when detokenize is True. Set detokenize=True to use "
        "stop.");
  }
  for (const std::string& bad_word : bad_words) {
    if (bad_word.empty()) {
      throw InvalidArgument(fmt::format("bad_words cannot contain an empty string. Got "
                                        "bad_words={}",
                                        python_str_list(bad_words)));
    }
  }
  if (allowed_token_ids.has_value() && allowed_token_ids->empty()) {
    throw InvalidArgument("allowed_token_ids is not None and empty!");
  }
  // vLLM checks this in its tokenization parameters; the message is this engine's own.
  if (truncate_prompt_tokens.has_value() && *truncate_prompt_tokens != -1 &&
      *truncate_prompt_tokens < 1) {
    throw InvalidArgument(fmt::format(
        "truncate_prompt_tokens must be at least 1, or -1 for max_model_len, got {}.",
        *truncate_prompt_tokens));
  }
  // vLLM resets top_p/top_k/min_p for greedy requests and then rejects n > 1, because
  // greedy samples would all be identical.
  if (is_greedy() && n > 1) {
    throw InvalidArgument(
        fmt::format("n must be 1 when using greedy sampling, got {}.", n));
  }
}

}  // namespace vllm
