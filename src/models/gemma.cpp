#include "models/gemma.h"

#include <fmt/format.h>

#include <cmath>

#include "core/errors.h"
#include "model_loader/gguf.h"
#include "models/decoder_weights.h"
#include "models/hf_weights.h"

namespace vllm {
namespace {

// transformers' Gemma RMSNorm multiplies by (1 + weight), computed in float32.
RMSNorm gemma_norm(std::vector<float> weight, double eps) {
  for (float& w : weight) w = 1.0f + w;
  return RMSNorm(std::move(weight), eps);
}

bool is_sliding_layer(const ModelConfig& config, int64_t layer) {
  return !config.layer_types.empty() && config.layer_types[layer] == "sliding_attention";
}

}  // namespace

void GemmaForCausalLM::init_common() {
  if (!config_.layer_types.empty() &&
      static_cast<int64_t>(config_.layer_types.size()) != config_.num_hidden_layers) {
    throw ModelLoadError(fmt::format("layer_types lists {} layers, the model has {}",
                                     config_.layer_types.size(), config_.num_hidden_layers));
  }
  embed_scale_ = static_cast<float>(std::sqrt(static_cast<double>(config_.hidden_size)));
  global_rotary_emb_ = RotaryEmbedding(config_.head_dim, config_.rope_theta,
                                       RotaryStyle::kRotateHalf, 0, config_.rope_scaling,
                                       config_.max_position_embeddings);
  // Gemma 2 uses one rope for every layer; Gemma 3's sliding layers use an unscaled rope of
  // their own base frequency.
  if (has_local_rope()) {
    local_rotary_emb_ = RotaryEmbedding(config_.head_dim, config_.rope_local_base_freq,
                                        RotaryStyle::kRotateHalf);
  }
}

AttentionOptions GemmaForCausalLM::attention_options(bool is_sliding) const {
  AttentionOptions options;
  // transformers: scaling = query_pre_attn_scalar ** -0.5, a Python float used in float32.
  options.scale = static_cast<float>(std::pow(config_.query_pre_attn_scalar, -0.5));
  options.sliding_window = is_sliding ? static_cast<int32_t>(config_.sliding_window) : 0;
  options.logits_soft_cap = static_cast<float>(config_.attn_logit_softcapping);
  return options;
}

GemmaForCausalLM::GemmaForCausalLM(std::shared_ptr<HfWeights> weights, const ModelConfig& config)
    : hf_weights_(std::move(weights)), config_(config) {
  const std::unique_ptr<DecoderWeightSource> source = make_hf_decoder_source(*hf_weights_);
  load(*source, /*norms_hold_one_plus_weight=*/false);
}

GemmaForCausalLM::GemmaForCausalLM(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config)
    : gguf_(std::move(gguf)), config_(config) {
  const std::unique_ptr<DecoderWeightSource> source =
      make_gguf_decoder_source(*gguf_, GgufNaming::kGemma);
  load(*source, /*norms_hold_one_plus_weight=*/true);
}

void GemmaForCausalLM::load(DecoderWeightSource& source, bool norms_hold_one_plus_weight) {
  init_common();
  const int64_t hidden = config_.hidden_size;
  const int64_t num_heads = config_.num_attention_heads;
  const int64_t num_kv_heads = config_.num_key_value_heads;
  const int64_t head_dim = config_.head_dim;
  const int64_t intermediate = config_.intermediate_size;
  const double eps = config_.rms_norm_eps;
  auto linear = [&](const std::string& name, int64_t out_features, int64_t in_features) {
    return make_linear(source.matrix(name, out_features, in_features));
  };
  auto norm = [&](const std::string& name, int64_t size) {
    std::vector<float> weight = source.vector(name, size);
    return norms_hold_one_plus_weight ? RMSNorm(std::move(weight), eps)
                                      : gemma_norm(std::move(weight), eps);
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
    GemmaDecoderLayer& layer = layers_[i];
    layer.is_sliding = is_sliding_layer(config_, i);
    layer.input_layernorm = norm(p + "input_layernorm.weight", hidden);
    layer.q_proj = linear(p + "self_attn.q_proj.weight", num_heads * head_dim, hidden);
    layer.k_proj = linear(p + "self_attn.k_proj.weight", num_kv_heads * head_dim, hidden);
    layer.v_proj = linear(p + "self_attn.v_proj.weight", num_kv_heads * head_dim, hidden);
    layer.o_proj = linear(p + "self_attn.o_proj.weight", hidden, num_heads * head_dim);
    if (has_qk_norm()) {
      layer.q_norm = norm(p + "self_attn.q_norm.weight", head_dim);
      layer.k_norm = norm(p + "self_attn.k_norm.weight", head_dim);
    }
    layer.attn = Attention(i, num_heads, num_kv_heads, head_dim,
                           attention_options(layer.is_sliding));
    layer.post_attention_layernorm = norm(p + "post_attention_layernorm.weight", hidden);
    layer.pre_feedforward_layernorm = norm(p + "pre_feedforward_layernorm.weight", hidden);
    layer.gate_proj = linear(p + "mlp.gate_proj.weight", intermediate, hidden);
    layer.up_proj = linear(p + "mlp.up_proj.weight", intermediate, hidden);
    layer.down_proj = linear(p + "mlp.down_proj.weight", hidden, intermediate);
    layer.post_feedforward_layernorm = norm(p + "post_feedforward_layernorm.weight", hidden);
  }
  norm_ = norm("model.norm.weight", hidden);
  lm_head_ = config_.tie_word_embeddings
                 ? make_linear(embedding)
                 : linear("lm_head.weight", config_.vocab_size, hidden);
  source.check_all_read(config_.tie_word_embeddings);
}

void GemmaForCausalLM::run_layer(const GemmaDecoderLayer& layer, const ForwardBatch& batch,
                                 KVCache& kv_cache) {
  const int64_t n = batch.num_tokens();

  // Attention: normalized input, normalized output, then the residual.
  layer.input_layernorm.forward(act_.hidden, act_.normed);
  project_qkv(layer.q_proj, layer.k_proj, layer.v_proj, n, act_);
  if (has_qk_norm()) {
    layer.q_norm.forward(act_.query, act_.query);  // each [head_dim] row of every head
    layer.k_norm.forward(act_.key, act_.key);
  }
  if (layer.is_sliding && has_local_rope()) {
    local_rotary_emb_.forward(local_cos_sin_, act_.query, act_.key, config_.num_attention_heads,
                              config_.num_key_value_heads);
  } else {
    global_rotary_emb_.forward(global_cos_sin_, act_.query, act_.key, config_.num_attention_heads,
                               config_.num_key_value_heads);
  }
  layer.attn.forward(act_.query, act_.key, act_.value, batch, kv_cache, act_.attn_out);
  layer.o_proj.forward(act_.attn_out, n, act_.proj_out);
  layer.post_attention_layernorm.forward(act_.proj_out, act_.proj_out);
  ops::add_inplace(Device::kCpu, act_.hidden, act_.proj_out);

  // MLP, normalized the same way.
  layer.pre_feedforward_layernorm.forward(act_.hidden, act_.normed);
  gated_mlp(layer.gate_proj, layer.up_proj, layer.down_proj, act_fn_, n, act_);
  layer.post_feedforward_layernorm.forward(act_.proj_out, act_.proj_out);
  ops::add_inplace(Device::kCpu, act_.hidden, act_.proj_out);
}

void GemmaForCausalLM::forward(const ForwardBatch& batch, KVCache& kv_cache,
                               std::span<float> logits) {
  const int64_t n = batch.num_tokens();
  check_forward_batch(batch, logits, config_.vocab_size);
  if (n == 0) return;

  act_.resize(n, config_);
  embed_tokens_.forward(batch.input_ids, act_.hidden);
  for (float& value : act_.hidden) value *= embed_scale_;
  global_rotary_emb_.compute_cos_sin(batch.positions, global_cos_sin_);
  if (has_local_rope()) local_rotary_emb_.compute_cos_sin(batch.positions, local_cos_sin_);
  for (const GemmaDecoderLayer& layer : layers_) run_layer(layer, batch, kv_cache);

  norm_.forward(act_.hidden, act_.normed);
  // The soft cap maps a skipped logit's -inf to -cap, so capped models get every logit.
  const bool capped = config_.final_logit_softcapping > 0.0;
  logits_processor_.forward(act_.normed, config_.hidden_size, batch.logits_indices, lm_head_,
                            logits, capped ? std::span<const uint8_t>() : batch.logits_max_only);
  if (capped) {
    ops::tanh_soft_cap(Device::kCpu, logits,
                       static_cast<float>(config_.final_logit_softcapping));
  }
}

std::unique_ptr<Model> load_gemma_from_hf(std::shared_ptr<HfWeights> weights,
                                          const ModelConfig& config) {
  return std::make_unique<GemmaForCausalLM>(std::move(weights), config);
}

std::unique_ptr<Model> load_gemma_from_gguf(std::shared_ptr<GGUFFile> gguf,
                                            const ModelConfig& config) {
  return std::make_unique<GemmaForCausalLM>(std::move(gguf), config);
}

}  // namespace vllm
