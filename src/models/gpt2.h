// GPT-2 decoder (GPT2LMHeadModel) over HF safetensors or GGUF weights: learned position
// embeddings, pre-LayerNorm blocks with biases, an ungated gelu_tanh MLP and no rotary
// embedding.
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "layers/activation.h"
#include "layers/attention.h"
#include "layers/layer_norm.h"
#include "layers/linear.h"
#include "layers/logits_processor.h"
#include "layers/vocab_embedding.h"
#include "models/decoder_block.h"
#include "models/model.h"

namespace vllm {

class GGUFFile;
class HfWeights;

struct GPT2Block {
  LayerNorm ln_1;
  Linear q_proj, k_proj, v_proj;  // the three row ranges of the fused c_attn
  Linear c_proj;                  // attention output projection
  Attention attn;
  LayerNorm ln_2;
  Linear c_fc, mlp_c_proj;
};

class GPT2LMHeadModel : public Model {
 public:
  // Reads the HF parameter names with or without the "transformer." prefix
  // (transformer.h.N.attn.c_attn.weight or h.N.attn.c_attn.weight). Conv1D weights, stored
  // [in_features, out_features], are transposed into owned copies. Throws ModelLoadError for
  // missing, misshapen or unused tensors.
  GPT2LMHeadModel(std::shared_ptr<HfWeights> weights, const ModelConfig& config);
  // Reads llama.cpp's names for the "gpt2" architecture (blk.N.attn_qkv.weight, ...).
  GPT2LMHeadModel(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config);

  const ModelConfig& config() const override { return config_; }
  void forward(const ForwardBatch& batch, KVCache& kv_cache, std::span<float> logits) override;

 private:
  void run_block(const GPT2Block& block, const ForwardBatch& batch, KVCache& kv_cache);

  std::shared_ptr<HfWeights> hf_weights_;  // keeps the mappings and converted copies alive
  std::shared_ptr<GGUFFile> gguf_;         // keeps the weight mapping and copies alive
  std::deque<std::vector<uint8_t>> transposed_;  // Conv1D weights as [out, in]
  ModelConfig config_;
  VocabEmbedding wte_;  // [vocab_size, hidden_size]
  VocabEmbedding wpe_;  // [max_position_embeddings, hidden_size]
  std::vector<GPT2Block> blocks_;
  LayerNorm ln_f_;
  Linear lm_head_;  // wte, or a separate lm_head.weight when the embeddings are untied
  GeluTanh act_fn_;
  LogitsProcessor logits_processor_;

  DecoderActivations act_;      // per-step activations, with an ungated MLP
  std::vector<float> position_;  // [num_tokens, hidden_size] position embeddings
};

// Registry entry point: builds a GPT2LMHeadModel from an HF safetensors checkpoint.
std::unique_ptr<Model> load_gpt2_from_hf(std::shared_ptr<HfWeights> weights,
                                         const ModelConfig& config);
// Registry entry point: builds a GPT2LMHeadModel from a GGUF file.
std::unique_ptr<Model> load_gpt2_from_gguf(std::shared_ptr<GGUFFile> gguf,
                                           const ModelConfig& config);

}  // namespace vllm
