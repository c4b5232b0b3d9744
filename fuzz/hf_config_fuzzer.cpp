// Fuzz target for Hugging Face config.json and generation_config.json parsing: the input is
// the file's text, parsed as both. Either may fail only with ModelLoadError. An accepted
// config must pass the checks that parse_hf_config promises: positive sizes, whole KV head
// groups, an even head_dim and a positive rms_norm_eps.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/errors.h"
#include "fuzz/fuzz_support.h"
#include "models/model_config_hf.h"

namespace {

void check_config(const vllm::ModelConfig& config) {
  const bool valid = config.vocab_size > 0 && config.hidden_size > 0 &&
                     config.intermediate_size > 0 && config.num_hidden_layers > 0 &&
                     config.num_attention_heads > 0 && config.num_key_value_heads > 0 &&
                     config.num_attention_heads % config.num_key_value_heads == 0 &&
                     config.head_dim > 0 && config.head_dim % 2 == 0 &&
                     config.max_position_embeddings > 0 && config.rms_norm_eps > 0.0;
  if (!valid) {
    std::fprintf(stderr, "accepted an invalid config for %s\n", config.architecture.c_str());
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vllm::fuzz::silence_logs();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    check_config(vllm::parse_hf_config(text, "config.json"));
  } catch (const vllm::ModelLoadError&) {
  }
  try {
    (void)vllm::parse_generation_config(text, "generation_config.json");
  } catch (const vllm::ModelLoadError&) {
  }
  return 0;
}
