// Model hyperparameters, mapped to one struct from HF config.json or from GGUF metadata.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vllm {

// Rotary frequency scaling: config.json's rope_parameters (transformers 5) or rope_scaling,
// or the GGUF rope.scaling.* keys, with transformers' field names.
struct RopeScaling {
  std::string rope_type = "default";  // "default", "linear", "llama3" or "longrope"
  double factor = 1.0;                // linear and llama3: divides inv_freq
  double low_freq_factor = 1.0;       // llama3
  double high_freq_factor = 4.0;      // llama3
  int64_t original_max_position_embeddings = 0;  // llama3 and longrope
  std::vector<double> short_factor;   // longrope: [rotary_dim / 2] inv_freq divisors
  std::vector<double> long_factor;    // longrope: [rotary_dim / 2]
  // longrope: multiplies cos and sin; unset means transformers' default,
  // sqrt(1 + ln(s) / ln(original_max_position_embeddings)) for
  // s = max_position_embeddings / original_max_position_embeddings > 1, else 1.
  std::optional<double> attention_factor;
  // GGUF rope_freqs.weight ([rotary_dim / 2]), llama.cpp's form of the llama3 scaling:
  // inv_freq[i] is divided by freq_factors[i]. Empty when absent; applies with any rope_type.
  std::vector<double> freq_factors;
};

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
  RopeScaling rope_scaling;
  double partial_rotary_factor = 1.0;  // fraction of head_dim that rope rotates (Phi3)
  // Window of sliding-window attention layers in tokens, 0 for none. Which layers slide is
  // given by layer_types.
  int64_t sliding_window = 0;
  // Per layer "full_attention" or "sliding_attention", as transformers' config.layer_types;
  // empty means every layer attends to the full context.
  std::vector<std::string> layer_types;
  // Gemma 2, Gemma 3 and GPT-2 (model_config_hf.cpp and model_config_gguf.cpp fill them in
  // those families' branches; other families keep the defaults).
  std::string hidden_act;                // MLP activation as config.json names it, "gelu_new"
  double layer_norm_eps = 1e-5;          // GPT-2 LayerNorm epsilon
  double query_pre_attn_scalar = 0.0;    // Gemma: attention scale is its inverse square root
  double attn_logit_softcapping = 0.0;   // Gemma 2 attention score soft cap; 0: none
  double final_logit_softcapping = 0.0;  // Gemma 2 logit soft cap; 0: none
  double rope_local_base_freq = 0.0;     // Gemma 3: rope_theta of sliding-window layers
  std::string dtype = "float32";  // compute dtype; the activations and KV cache use it
  std::string quantization;       // "gguf" for GGUF files, empty for unquantized weights
};

}  // namespace vllm
