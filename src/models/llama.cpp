#include "models/llama.h"

#include <fmt/format.h>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "models/gguf_weights.h"
#include "models/hf_weights.h"

namespace vllm {
namespace {

Linear gguf_linear(const GGUFFile& gguf, const std::string& name, int64_t out_features,
                   int64_t in_features) {
  return Linear(std::make_unique<BlockQuantLinearMethod>(
      gguf_weight_matrix(gguf, name, out_features, in_features)));
}

// Rejects rope variants this model does not implement, rather than computing wrong outputs.
void check_rope_supported(const GGUFFile& gguf) {
  const auto scaling = gguf.get_string_or("llama.rope.scaling.type");
  if (scaling && *scaling != "none") {
    throw ModelLoadError(fmt::format("{}: rope scaling type '{}' is not supported yet",
                                     gguf.path(), *scaling));
  }
  if (gguf.find_tensor("rope_freqs.weight") != nullptr) {
    throw ModelLoadError(fmt::format(
        "{}: tensor 'rope_freqs.weight' (Llama 3 rope frequency factors) is not supported yet",
        gguf.path()));
  }
}

}  // namespace

LlamaForCausalLM::LlamaForCausalLM(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config)
    : gguf_(std::move(gguf)), config_(config) {
  const GGUFFile& file = *gguf_;
  check_rope_supported(file);
  const int64_t hidden = config_.hidden_size;
  const int64_t q_size = config_.num_attention_heads * config_.head_dim;
  const int64_t kv_size = config_.num_key_value_heads * config_.head_dim;
  const int64_t intermediate = config_.intermediate_size;

  embed_tokens_ = VocabEmbedding(
      gguf_weight_matrix(file, "token_embd.weight", config_.vocab_size, hidden));
  layers_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    LlamaDecoderLayer& layer = layers_[i];
    layer.input_layernorm =
        RMSNorm(gguf_vector(file, p + "attn_norm.weight", hidden), config_.rms_norm_eps);
    layer.q_proj = gguf_linear(file, p + "attn_q.weight", q_size, hidden);
    layer.k_proj = gguf_linear(file, p + "attn_k.weight", kv_size, hidden);
    layer.v_proj = gguf_linear(file, p + "attn_v.weight", kv_size, hidden);
    layer.o_proj = gguf_linear(file, p + "attn_output.weight", hidden, q_size);
    layer.attn = Attention(i, config_.num_attention_heads, config_.num_key_value_heads,
                           config_.head_dim);
    layer.post_attention_layernorm =
        RMSNorm(gguf_vector(file, p + "ffn_norm.weight", hidden), config_.rms_norm_eps);
    layer.gate_proj = gguf_linear(file, p + "ffn_gate.weight", intermediate, hidden);
    layer.up_proj = gguf_linear(file, p + "ffn_up.weight", intermediate, hidden);
    layer.down_proj = gguf_linear(file, p + "ffn_down.weight", hidden, intermediate);
  }
  norm_ = RMSNorm(gguf_vector(file, "output_norm.weight", hidden), config_.rms_norm_eps);
  const char* head_name = config_.tie_word_embeddings ? "token_embd.weight" : "output.weight";
  lm_head_ = gguf_linear(file, head_name, config_.vocab_size, hidden);
  rotary_emb_ = RotaryEmbedding(config_.head_dim, config_.rope_theta);

  // Tensors the model does not read are reported, not fatal: files may carry extras.
  const size_t expected = 2 + 9 * layers_.size() + (config_.tie_word_embeddings ? 0 : 1);
  if (file.tensors().size() != expected) {
    VLLM_LOG_WARN("{}: {} tensors in the file, the model reads {}", file.path(),
                  file.tensors().size(), expected);
  }
}

LlamaForCausalLM::LlamaForCausalLM(std::shared_ptr<HfWeights> weights, const ModelConfig& config)
    : hf_weights_(std::move(weights)), config_(config) {
  HfWeights& file = *hf_weights_;
  const int64_t hidden = config_.hidden_size;
  const int64_t num_heads = config_.num_attention_heads;
  const int64_t num_kv_heads = config_.num_key_value_heads;
  const int64_t head_dim = config_.head_dim;
  const int64_t q_size = num_heads * head_dim;
  const int64_t kv_size = num_kv_heads * head_dim;
  const int64_t intermediate = config_.intermediate_size;
  auto linear = [&](const std::string& name, int64_t out_features, int64_t in_features) {
    return Linear(std::make_unique<BlockQuantLinearMethod>(
        file.matrix(name, out_features, in_features)));
  };
  auto rotary_linear = [&](const std::string& name, int64_t heads) {
    return Linear(std::make_unique<BlockQuantLinearMethod>(
        file.rotary_matrix(name, heads, head_dim, hidden)));
  };

  const WeightMatrix embedding = file.matrix("model.embed_tokens.weight", config_.vocab_size,
                                             hidden);
  embed_tokens_ = VocabEmbedding(embedding);
  layers_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    LlamaDecoderLayer& layer = layers_[i];
    layer.input_layernorm =
        RMSNorm(file.vector(p + "input_layernorm.weight", hidden), config_.rms_norm_eps);
    layer.q_proj = rotary_linear(p + "self_attn.q_proj.weight", num_heads);
    layer.k_proj = rotary_linear(p + "self_attn.k_proj.weight", num_kv_heads);
    layer.v_proj = linear(p + "self_attn.v_proj.weight", kv_size, hidden);
    layer.o_proj = linear(p + "self_attn.o_proj.weight", hidden, q_size);
    layer.attn = Attention(i, num_heads, num_kv_heads, head_dim);
    layer.post_attention_layernorm =
        RMSNorm(file.vector(p + "post_attention_layernorm.weight", hidden), config_.rms_norm_eps);
    layer.gate_proj = linear(p + "mlp.gate_proj.weight", intermediate, hidden);
    layer.up_proj = linear(p + "mlp.up_proj.weight", intermediate, hidden);
    layer.down_proj = linear(p + "mlp.down_proj.weight", hidden, intermediate);
  }
  norm_ = RMSNorm(file.vector("model.norm.weight", hidden), config_.rms_norm_eps);
  lm_head_ = config_.tie_word_embeddings
                 ? Linear(std::make_unique<BlockQuantLinearMethod>(embedding))
                 : linear("lm_head.weight", config_.vocab_size, hidden);
  rotary_emb_ = RotaryEmbedding(config_.head_dim, config_.rope_theta);

  // Rotary inverse frequencies are recomputed from rope_theta, and with tied embeddings a
  // saved lm_head.weight is a copy of the embeddings, as vLLM treats both.
  const bool tied = config_.tie_word_embeddings;
  file.check_all_read([tied](const std::string& name) {
    return name.ends_with(".rotary_emb.inv_freq") || (tied && name == "lm_head.weight");
  });
}

void LlamaForCausalLM::resize_scratch(int64_t num_tokens) {
  const auto n = static_cast<size_t>(num_tokens);
  const auto q_size = static_cast<size_t>(config_.num_attention_heads * config_.head_dim);
  const auto kv_size = static_cast<size_t>(config_.num_key_value_heads * config_.head_dim);
  const auto hidden = static_cast<size_t>(config_.hidden_size);
  const auto intermediate = static_cast<size_t>(config_.intermediate_size);
  hidden_.resize(n * hidden);
  normed_.resize(n * hidden);
  query_.resize(n * q_size);
  key_.resize(n * kv_size);
  value_.resize(n * kv_size);
  attn_out_.resize(n * q_size);
  proj_out_.resize(n * hidden);
  gate_.resize(n * intermediate);
  up_.resize(n * intermediate);
}

void LlamaForCausalLM::run_layer(const LlamaDecoderLayer& layer, const ForwardBatch& batch,
                                 KVCache& kv_cache) {
  const int64_t n = batch.num_tokens();

  // Self-attention block with its residual connection.
  layer.input_layernorm.forward(hidden_, normed_);
  layer.q_proj.forward(normed_, n, query_);
  layer.k_proj.forward(normed_, n, key_);
  layer.v_proj.forward(normed_, n, value_);
  rotary_emb_.forward(cos_sin_, query_, key_, config_.num_attention_heads,
                      config_.num_key_value_heads);
  layer.attn.forward(query_, key_, value_, batch, kv_cache, attn_out_);
  layer.o_proj.forward(attn_out_, n, proj_out_);
  ops::add_inplace(Device::kCpu, hidden_, proj_out_);

  // MLP block with its residual connection.
  layer.post_attention_layernorm.forward(hidden_, normed_);
  layer.gate_proj.forward(normed_, n, gate_);
  layer.up_proj.forward(normed_, n, up_);
  act_fn_.forward(gate_, up_, gate_);
  layer.down_proj.forward(gate_, n, proj_out_);
  ops::add_inplace(Device::kCpu, hidden_, proj_out_);
}

void LlamaForCausalLM::forward(const ForwardBatch& batch, KVCache& kv_cache,
                               std::span<float> logits) {
  const int64_t n = batch.num_tokens();
  if (batch.positions.size() != batch.input_ids.size() ||
      batch.slot_mapping.size() != batch.input_ids.size()) {
    throw InvalidArgument(fmt::format(
        "batch of {} tokens has {} positions and {} slots; expected one of each per token", n,
        batch.positions.size(), batch.slot_mapping.size()));
  }
  const auto num_logits = static_cast<int64_t>(batch.logits_indices.size());
  if (static_cast<int64_t>(logits.size()) != num_logits * config_.vocab_size) {
    throw InvalidArgument(fmt::format("logits buffer has {} floats, expected {} x {}",
                                      logits.size(), num_logits, config_.vocab_size));
  }
  if (n == 0) return;

  resize_scratch(n);
  embed_tokens_.forward(batch.input_ids, hidden_);
  rotary_emb_.compute_cos_sin(batch.positions, cos_sin_);
  for (const LlamaDecoderLayer& layer : layers_) run_layer(layer, batch, kv_cache);

  // The LM head, the largest matrix, runs only on the rows whose logits are requested.
  norm_.forward(hidden_, normed_);
  logits_processor_.forward(normed_, config_.hidden_size, batch.logits_indices, lm_head_,
                            logits);
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
