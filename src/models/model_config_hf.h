// ModelConfig from a Hugging Face config.json, and the default sampling values of
// generation_config.json.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "models/model_config.h"

namespace vllm {

// Parses the text of a config.json. The first entry of "architectures" selects the model
// class, so it must be registered (see supported_architectures()). Throws ModelLoadError
// naming `source_name`, the field and why.
ModelConfig parse_hf_config(std::string_view json_text, const std::string& source_name);

// Reads <directory>/config.json with parse_hf_config.
ModelConfig load_hf_config(const std::string& directory);

// Sampling defaults from generation_config.json, as vLLM applies them with
// `--generation-config auto`: each set field becomes the default of requests that do not
// set it. max_new_tokens maps to SamplingParams.max_tokens.
struct GenerationDefaults {
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int64_t> top_k;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<int64_t> max_new_tokens;

  bool empty() const {
    return !temperature && !top_p && !top_k && !min_p && !repetition_penalty && !max_new_tokens;
  }
};

// Parses the text of a generation_config.json. Fields of the wrong type throw
// ModelLoadError naming `source_name` and the field; unknown fields are ignored.
GenerationDefaults parse_generation_config(std::string_view json_text,
                                           const std::string& source_name);

}  // namespace vllm
