#include "models/llama.h"

#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "models/decoder_weights.h"
#include "models/hf_weights.h"

namespace vllm {
namespace {

// The options of layer `layer_index`'s attention: its sliding window, if layer_types marks it
// as a sliding-window layer.
AttentionOptions attention_options(const ModelConfig& config, int64_t layer_index) {
  AttentionOptions options;
  options.scale = 1.0f / std::sqrt(static_cast<float>(config.head_dim));
  const bool sliding =
      config.sliding_window > 0 &&
      (config.layer_types.empty() ||
       config.layer_types[static_cast<size_t>(layer_index)] == "sliding_attention");
  if (sliding) options.sliding_window = static_cast<int32_t>(config.sliding_window);
  return options;
}

}  // namespace

DecoderOptions decoder_options(const ModelConfig& config) {
  DecoderOptions options;
  const std::string& arch = config.architecture;
  if (arch == "LlamaForCausalLM" || arch == "MistralForCausalLM") {
    // llama.cpp stores llama q/k rows in adjacent pairs; HF rows are reordered to match.
    options.rotary_style = RotaryStyle::kAdjacentPairs;
  } else {
    options.rotary_style = RotaryStyle::kRotateHalf;
  }
  options.qkv_bias = arch == "Qwen2ForCausalLM";
  options.qk_norm = arch == "Qwen3ForCausalLM";
  options.fused_qkv = arch == "Phi3ForCausalLM";
  options.fused_gate_up = arch == "Phi3ForCausalLM";
  return options;
}

LlamaForCausalLM::LlamaForCausalLM(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config)
    : gguf_(std::move(gguf)), config_(config), options_(decoder_options(config)) {
  const std::unique_ptr<DecoderWeightSource> source = make_gguf_decoder_source(*gguf_);
  load(*source);
}

LlamaForCausalLM::LlamaForCausalLM(std::shared_ptr<HfWeights> weights, const ModelConfig& config)
    : hf_weights_(std::move(weights)), config_(config), options_(decoder_options(config)) {
  const std::unique_ptr<DecoderWeightSource> source = make_hf_decoder_source(*hf_weights_);
  load(*source);
}

void LlamaForCausalLM::load(DecoderWeightSource& source) {
  const int64_t hidden = config_.hidden_size;
  const int64_t num_heads = config_.num_attention_heads;
  const int64_t num_kv_heads = config_.num_key_value_heads;
  const int64_t head_dim = config_.head_dim;
  const int64_t q_size = num_heads * head_dim;
  const int64_t kv_size = num_kv_heads * head_dim;
  const int64_t intermediate = config_.intermediate_size;
  const double eps = config_.rms_norm_eps;
  const bool adjacent = options_.rotary_style == RotaryStyle::kAdjacentPairs;

  // q_proj and k_proj in the layout of the rotary style.
  auto rotary_weight = [&](const std::string& name, int64_t heads) {
    return adjacent ? source.adjacent_pair_matrix(name, heads, head_dim, hidden)
                    : source.matrix(name, heads * head_dim, hidden);
  };
  auto bias = [&](const std::string& name, int64_t size) {
    return options_.qkv_bias ? source.vector(name, size) : std::vector<float>{};
  };

  // A tied table is also the LM head, streamed every step; an untied one is read by row.
  const WeightMatrix embedding =
      config_.tie_word_embeddings
          ? source.matrix("model.embed_tokens.weight", config_.vocab_size, hidden)
          : source.table("model.embed_tokens.weight", config_.vocab_size, hidden);
  embed_tokens_ = VocabEmbedding(embedding);
  layers_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LlamaDecoderLayer& layer = layers_[i];
    layer.input_layernorm = RMSNorm(source.vector(p + "input_layernorm.weight", hidden), eps);

    if (options_.fused_qkv) {
      // Rows: q, then k, then v, each in HF's rotate-half layout.
      const WeightMatrix qkv = source.sliced_matrix(p + "self_attn.qkv_proj.weight",
                                                    q_size + 2 * kv_size, hidden,
                                                    std::gcd(q_size, kv_size));
      layer.q_proj = make_linear(slice_rows(qkv, 0, q_size));
      layer.k_proj = make_linear(slice_rows(qkv, q_size, kv_size));
      layer.v_proj = make_linear(slice_rows(qkv, q_size + kv_size, kv_size));
    } else {
      layer.q_proj = make_linear(rotary_weight(p + "self_attn.q_proj.weight", num_heads),
                                 bias(p + "self_attn.q_proj.bias", q_size));
      layer.k_proj = make_linear(rotary_weight(p + "self_attn.k_proj.weight", num_kv_heads),
                                 bias(p + "self_attn.k_proj.bias", kv_size));
      layer.v_proj = make_linear(source.matrix(p + "self_attn.v_proj.weight", kv_size, hidden),
                                 bias(p + "self_attn.v_proj.bias", kv_size));
    }
    layer.o_proj = make_linear(source.matrix(p + "self_attn.o_proj.weight", hidden, q_size));
    if (options_.qk_norm) {
      layer.q_norm = RMSNorm(source.vector(p + "self_attn.q_norm.weight", head_dim), eps);
      layer.k_norm = RMSNorm(source.vector(p + "self_attn.k_norm.weight", head_dim), eps);
    }
    layer.attn = Attention(i, num_heads, num_kv_heads, head_dim, attention_options(config_, i));

    layer.post_attention_layernorm =
        RMSNorm(source.vector(p + "post_attention_layernorm.weight", hidden), eps);
    if (options_.fused_gate_up) {
      const WeightMatrix gate_up = source.sliced_matrix(p + "mlp.gate_up_proj.weight",
                                                        2 * intermediate, hidden, intermediate);
      layer.gate_proj = make_linear(slice_rows(gate_up, 0, intermediate));
      layer.up_proj = make_linear(slice_rows(gate_up, intermediate, intermediate));
    } else {
      layer.gate_proj = make_linear(source.matrix(p + "mlp.gate_proj.weight", intermediate, hidden));
      layer.up_proj = make_linear(source.matrix(p + "mlp.up_proj.weight", intermediate, hidden));
    }
    layer.down_proj = make_linear(source.matrix(p + "mlp.down_proj.weight", hidden, intermediate));
  }
  norm_ = RMSNorm(source.vector("model.norm.weight", hidden), eps);
  lm_head_ = config_.tie_word_embeddings
                 ? make_linear(embedding)
                 : make_linear(source.matrix("lm_head.weight", config_.vocab_size, hidden));

  const auto rotary_dim = static_cast<int64_t>(
      std::lround(static_cast<double>(head_dim) * config_.partial_rotary_factor));
  rotary_emb_ = RotaryEmbedding(head_dim, config_.rope_theta, options_.rotary_style, rotary_dim,
                                config_.rope_scaling, config_.max_position_embeddings);
  source.check_all_read(config_.tie_word_embeddings);
}

void LlamaForCausalLM::run_layer(const LlamaDecoderLayer& layer, const ForwardBatch& batch,
                                 KVCache& kv_cache) {
  const int64_t n = batch.num_tokens();

  // Self-attention block with its residual connection.
  layer.input_layernorm.forward(act_.hidden, act_.normed);
  project_qkv(layer.q_proj, layer.k_proj, layer.v_proj, n, act_);
  if (options_.qk_norm) {
    // Each head is one row of head_dim values.
    layer.q_norm.forward(act_.query, act_.query);
    layer.k_norm.forward(act_.key, act_.key);
  }
  rotary_emb_.forward(cos_sin_, act_.query, act_.key, config_.num_attention_heads,
                      config_.num_key_value_heads);
  layer.attn.forward(act_.query, act_.key, act_.value, batch, kv_cache, act_.attn_out);
  layer.o_proj.forward(act_.attn_out, n, act_.proj_out);
  ops::add_inplace(Device::kCpu, act_.hidden, act_.proj_out);

  // MLP block with its residual connection.
  layer.post_attention_layernorm.forward(act_.hidden, act_.normed);
  gated_mlp(layer.gate_proj, layer.up_proj, layer.down_proj, act_fn_, n, act_);
  ops::add_inplace(Device::kCpu, act_.hidden, act_.proj_out);
}

void LlamaForCausalLM::forward(const ForwardBatch& batch, KVCache& kv_cache,
                               std::span<float> logits) {
  const int64_t n = batch.num_tokens();
  check_forward_batch(batch, logits, config_.vocab_size);
  if (n == 0) return;

  act_.resize(n, config_);
  embed_tokens_.forward(batch.input_ids, act_.hidden);
  rotary_emb_.compute_cos_sin(batch.positions, cos_sin_);
  for (const LlamaDecoderLayer& layer : layers_) run_layer(layer, batch, kv_cache);

  // The LM head, the largest matrix, runs only on the rows whose logits are requested.
  norm_.forward(act_.hidden, act_.normed);
  logits_processor_.forward(act_.normed, config_.hidden_size, batch.logits_indices, lm_head_,
                            logits, batch.logits_max_only);
}

std::unique_ptr<Model> load_llama_from_gguf(std::shared_ptr<GGUFFile> gguf,
                                            const ModelConfig& config) {
  return std::make_unique<LlamaForCausalLM>(std::move(gguf), config);
}

std::unique_ptr<Model> load_llama_from_hf(std::shared_ptr<HfWeights> weights,
                                          const ModelConfig& config) {
  return std::make_unique<LlamaForCausalLM>(std::move(weights), config);
}

}  // namespace vllm
