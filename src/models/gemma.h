// Gemma 2 and Gemma 3 text decoders (Gemma2ForCausalLM, Gemma3ForCausalLM) over HF
// safetensors or GGUF weights. Both scale the embeddings by sqrt(hidden_size), normalize
// before and after attention and MLP with RMSNorm (1 + weight), use a gelu_tanh gated MLP
// and alternate sliding-window and full-context layers. Gemma 2 soft-caps attention scores
// and logits; Gemma 3 adds per-head q/k RMSNorm and a separate rope_theta for its
// sliding-window layers.
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

// Every RMSNorm here stores 1 + weight of transformers' Gemma RMSNorm.
struct GemmaDecoderLayer {
  RMSNorm input_layernorm;
  Linear q_proj, k_proj, v_proj, o_proj;
  RMSNorm q_norm, k_norm;  // Gemma 3 only: over head_dim, per head
  Attention attn;
  RMSNorm post_attention_layernorm;
  RMSNorm pre_feedforward_layernorm;
  Linear gate_proj, up_proj, down_proj;
  RMSNorm post_feedforward_layernorm;
  bool is_sliding = false;  // attends within config.sliding_window; uses the local rope
};

class GemmaForCausalLM : public Model {
 public:
  // Reads the HF parameter names (model.layers.N.self_attn.q_proj.weight, ...); rope stays
  // in HF's rotate-half layout. Throws ModelLoadError for missing, misshapen or unused
  // tensors.
  GemmaForCausalLM(std::shared_ptr<HfWeights> weights, const ModelConfig& config);
  // Reads llama.cpp's names for the "gemma2" and "gemma3" architectures. Their converter
  // stores every norm weight as 1 + weight already.
  GemmaForCausalLM(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config);

  const ModelConfig& config() const override { return config_; }
  void forward(const ForwardBatch& batch, KVCache& kv_cache, std::span<float> logits) override;

 private:
  bool has_qk_norm() const { return config_.architecture == "Gemma3ForCausalLM"; }
  // Gemma 3: sliding-window layers use local_rotary_emb_, the others global_rotary_emb_.
  bool has_local_rope() const { return config_.rope_local_base_freq > 0.0; }
  // Builds the layer-independent parts from config_: attention options, rotary tables,
  // the embedding scale.
  void init_common();
  // Builds every layer from `source`, which names tensors as HF checkpoints do. GGUF files
  // store each norm weight as 1 + weight already; HF checkpoints store the weight alone.
  void load(DecoderWeightSource& source, bool norms_hold_one_plus_weight);
  AttentionOptions attention_options(bool is_sliding) const;
  void run_layer(const GemmaDecoderLayer& layer, const ForwardBatch& batch, KVCache& kv_cache);

  std::shared_ptr<HfWeights> hf_weights_;  // keeps the mappings and converted copies alive
  std::shared_ptr<GGUFFile> gguf_;         // keeps the weight mapping and copies alive
  ModelConfig config_;
  VocabEmbedding embed_tokens_;
  // sqrt(hidden_size), rounded to float32, the activation dtype (transformers rounds it to
  // the model's dtype).
  float embed_scale_ = 1.0f;
  std::vector<GemmaDecoderLayer> layers_;
  RMSNorm norm_;
  Linear lm_head_;  // the embedding table (Gemma ties them)
  RotaryEmbedding global_rotary_emb_;  // full-context layers: rope_theta and rope_scaling
  RotaryEmbedding local_rotary_emb_;   // Gemma 3 sliding layers: rope_local_base_freq
  GeluTanhAndMul act_fn_;
  LogitsProcessor logits_processor_;

  DecoderActivations act_;  // per-step activations
  std::vector<float> global_cos_sin_;  // [num_tokens, head_dim / 2, 2]
  std::vector<float> local_cos_sin_;   // [num_tokens, head_dim / 2, 2]
};

// Registry entry point: builds a GemmaForCausalLM from an HF safetensors checkpoint.
std::unique_ptr<Model> load_gemma_from_hf(std::shared_ptr<HfWeights> weights,
                                          const ModelConfig& config);
// Registry entry point: builds a GemmaForCausalLM from a GGUF file.
std::unique_ptr<Model> load_gemma_from_gguf(std::shared_ptr<GGUFFile> gguf,
                                            const ModelConfig& config);

}  // namespace vllm
