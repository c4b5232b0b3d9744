// SamplingParams::validate with the rules and messages of vLLM v0.26
// (vllm/sampling_params.py, _verify_args and _verify_greedy_sampling).
#include "vllm/sampling_params.h"

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

}  // namespace

void SamplingParams::validate() const {
  if (n < 1) throw InvalidArgument(fmt::format("n must be at least 1, got {}.", n));
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
  // vLLM resets top_p/top_k/min_p for greedy requests and then rejects n > 1, because
  // greedy samples would all be identical.
  if (is_greedy() && n > 1) {
    throw InvalidArgument(
        fmt::format("n must be 1 when using greedy sampling, got {}.", n));
  }
}

}  // namespace vllm
