// The Llama-family decoder: LlamaForCausalLM and the architectures that differ from it only
// by options (MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM),
// over GGUF or HF safetensors weights.
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
#include "models/decoder_block.h"
#include "models/model.h"

namespace vllm {

class GGUFFile;
class HfWeights;
class DecoderWeightSource;

// Differences between the Llama-like families, derived from the architecture. GGUF files of these
// families keep the same layouts (llama.cpp's converter permutes llama q/k rows only).
struct DecoderOptions {
  bool qkv_bias = false;       // Qwen2: q_proj, k_proj and v_proj have biases
  bool qk_norm = false;        // Qwen3: RMSNorm over head_dim on each q and k head, before rope
  bool fused_qkv = false;      // Phi3: one qkv_proj holding q, k and v rows
  bool fused_gate_up = false;  // Phi3: one gate_up_proj holding gate then up rows
  // kAdjacentPairs for llama GGUF files and HF Llama/Mistral weights, whose q/k rows are
  // reordered at load; kRotateHalf for the others, loaded as they are.
  RotaryStyle rotary_style = RotaryStyle::kAdjacentPairs;
};

DecoderOptions decoder_options(const ModelConfig& config);

struct LlamaDecoderLayer {
  RMSNorm input_layernorm;
  Linear q_proj, k_proj, v_proj, o_proj;
  RMSNorm q_norm, k_norm;  // [head_dim], only with DecoderOptions::qk_norm
  Attention attn;
  RMSNorm post_attention_layernorm;
  Linear gate_proj, up_proj, down_proj;
};

class LlamaForCausalLM : public Model {
 public:
  // Reads and shape-checks every tensor. Weights live in `gguf`: its mapping, or the copies
  // it makes on huge pages.
  LlamaForCausalLM(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config);
  // Reads the HF parameter names (model.layers.N.self_attn.q_proj.weight, ...). For Llama
  // and Mistral, q_proj and k_proj rows are reordered into the rotary layout of GGUF files,
  // so that both formats share one rotary kernel. Throws ModelLoadError for missing,
  // misshapen or unused tensors.
  LlamaForCausalLM(std::shared_ptr<HfWeights> weights, const ModelConfig& config);

  const ModelConfig& config() const override { return config_; }
  void forward(const ForwardBatch& batch, KVCache& kv_cache, std::span<float> logits) override;

 private:
  // Builds every layer from `source`, which names tensors as HF checkpoints do.
  void load(DecoderWeightSource& source);
  void run_layer(const LlamaDecoderLayer& layer, const ForwardBatch& batch, KVCache& kv_cache);

  std::shared_ptr<GGUFFile> gguf_;  // keeps the weight mapping and copies alive
  std::shared_ptr<HfWeights> hf_weights_;  // keeps the mappings and reordered copies alive
  ModelConfig config_;
  DecoderOptions options_;
  VocabEmbedding embed_tokens_;
  std::vector<LlamaDecoderLayer> layers_;
  RMSNorm norm_;
  Linear lm_head_;  // output.weight, or token_embd.weight when the embeddings are tied
  RotaryEmbedding rotary_emb_;
  SiluAndMul act_fn_;
  LogitsProcessor logits_processor_;

  DecoderActivations act_;      // per-step activations
  std::vector<float> cos_sin_;  // [num_tokens, rotary_dim / 2, 2]
};

// Registry entry point: builds a LlamaForCausalLM from a GGUF file.
std::unique_ptr<Model> load_llama_from_gguf(std::shared_ptr<GGUFFile> gguf,
                                            const ModelConfig& config);
// Registry entry point: builds a LlamaForCausalLM from an HF safetensors checkpoint.
std::unique_ptr<Model> load_llama_from_hf(std::shared_ptr<HfWeights> weights,
                                          const ModelConfig& config);

}  // namespace vllm
