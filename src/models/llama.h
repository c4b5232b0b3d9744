// Llama decoder-only transformer (LlamaForCausalLM) over GGUF or HF safetensors weights.
#pragma once

#include <memory>
#include <vector>

#include "layers/activation.h"
#include "layers/attention.h"
#include "layers/linear.h"
#include "layers/logits_processor.h"
#include "layers/rms_norm.h"
#include "layers/rotary_embedding.h"
#include "layers/vocab_embedding.h"
#include "models/model.h"

namespace vllm {

class GGUFFile;
class HfWeights;

struct LlamaDecoderLayer {
  RMSNorm input_layernorm;
  Linear q_proj, k_proj, v_proj, o_proj;
  Attention attn;
  RMSNorm post_attention_layernorm;
  Linear gate_proj, up_proj, down_proj;
};

class LlamaForCausalLM : public Model {
 public:
  // Reads and shape-checks every tensor. Weights stay in the mapping held by `gguf`.
  LlamaForCausalLM(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config);
  // Reads the HF parameter names (model.layers.N.self_attn.q_proj.weight, ...). q_proj and
  // k_proj rows are reordered into the rotary layout of GGUF files, so that both formats
  // share one rotary kernel. Throws ModelLoadError for missing, misshapen or unused tensors.
  LlamaForCausalLM(std::shared_ptr<HfWeights> weights, const ModelConfig& config);

  const ModelConfig& config() const override { return config_; }
  void forward(const ForwardBatch& batch, KVCache& kv_cache, std::span<float> logits) override;

 private:
  // Resizes the per-step activations for `num_tokens`, keeping their capacity between steps.
  void resize_scratch(int64_t num_tokens);
  void run_layer(const LlamaDecoderLayer& layer, const ForwardBatch& batch, KVCache& kv_cache);

  std::shared_ptr<GGUFFile> gguf_;  // keeps the weight mapping alive
  std::shared_ptr<HfWeights> hf_weights_;  // keeps the mappings and reordered copies alive
  ModelConfig config_;
  VocabEmbedding embed_tokens_;
  std::vector<LlamaDecoderLayer> layers_;
  RMSNorm norm_;
  Linear lm_head_;  // output.weight, or token_embd.weight when the embeddings are tied
  RotaryEmbedding rotary_emb_;
  SiluAndMul act_fn_;
  LogitsProcessor logits_processor_;

  // Per-step activations, resized each step and reused.
  std::vector<float> hidden_;     // [num_tokens, hidden_size] residual stream
  std::vector<float> normed_;     // [num_tokens, hidden_size]
  std::vector<float> query_;      // [num_tokens, num_heads, head_dim]
  std::vector<float> key_;        // [num_tokens, num_kv_heads, head_dim]
  std::vector<float> value_;      // [num_tokens, num_kv_heads, head_dim]
  std::vector<float> attn_out_;   // [num_tokens, num_heads, head_dim]
  std::vector<float> proj_out_;   // [num_tokens, hidden_size]
  std::vector<float> gate_;       // [num_tokens, intermediate_size]
  std::vector<float> up_;         // [num_tokens, intermediate_size]
  std::vector<float> cos_sin_;    // [num_tokens, head_dim / 2, 2]
};

// Registry entry point: builds a LlamaForCausalLM from a GGUF file.
std::unique_ptr<Model> load_llama_from_gguf(std::shared_ptr<GGUFFile> gguf,
                                            const ModelConfig& config);
// Registry entry point: builds a LlamaForCausalLM from an HF safetensors checkpoint.
std::unique_ptr<Model> load_llama_from_hf(std::shared_ptr<HfWeights> weights,
                                          const ModelConfig& config);

}  // namespace vllm
