// Model hyperparameters, mapped to one struct from HF config.json or from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

namespace vllm {

struct ModelConfig {
  std::string architecture;  // HF architecture name, "LlamaForCausalLM"
  std::string model_type;    // "llama"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t head_dim = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  std::string dtype = "float32";  // compute dtype; the activations and KV cache use it
  std::string quantization;       // "gguf" for GGUF files, empty for unquantized weights
};

}  // namespace vllm
