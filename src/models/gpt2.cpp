#include "models/gpt2.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "core/errors.h"
#include "core/logging.h"
#include "model_loader/gguf.h"
#include "models/decoder_weights.h"
#include "models/gguf_weights.h"
#include "models/hf_weights.h"

namespace vllm {
namespace {

std::vector<float> slice(const std::vector<float>& values, int64_t first, int64_t count) {
  return std::vector<float>(values.begin() + first, values.begin() + first + count);
}

template <typename Element>
void transpose_elements(const uint8_t* src, int64_t rows, int64_t cols, uint8_t* dst) {
  const auto* in = reinterpret_cast<const Element*>(src);
  auto* out = reinterpret_cast<Element*>(dst);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) out[c * rows + r] = in[r * cols + c];
}

// Splits a fused [3 * hidden, hidden] qkv matrix and its bias into q, k and v projections.
void set_qkv(GPT2Block& block, const WeightMatrix& qkv, const std::vector<float>& bias,
             int64_t hidden) {
  auto make = [&](int64_t part) {
    return make_linear(slice_rows(qkv, part * hidden, hidden),
                       slice(bias, part * hidden, hidden));
  };
  block.q_proj = make(0);
  block.k_proj = make(1);
  block.v_proj = make(2);
}

// Full causal attention scaled by head_dim ** -0.5 (GPT2Config's scale_attn_weights).
AttentionOptions attention_options(const ModelConfig& config) {
  AttentionOptions options;
  options.scale = static_cast<float>(std::pow(static_cast<double>(config.head_dim), -0.5));
  return options;
}

}  // namespace

GPT2LMHeadModel::GPT2LMHeadModel(std::shared_ptr<HfWeights> weights, const ModelConfig& config)
    : hf_weights_(std::move(weights)), config_(config) {
  HfWeights& file = *hf_weights_;
  const int64_t hidden = config_.hidden_size;
  const int64_t intermediate = config_.intermediate_size;
  const double eps = config_.layer_norm_eps;
  // transformers saves GPT2LMHeadModel with the prefix; the original "gpt2" checkpoints hold
  // a bare GPT2Model.
  const std::string prefix = file.contains("transformer.wte.weight") ? "transformer." : "";

  // Conv1D stores its weight as [in_features, out_features]; Linear needs [out, in].
  auto conv1d = [&](const std::string& name, int64_t in_features, int64_t out_features) {
    const WeightMatrix stored = file.matrix(name, in_features, out_features);
    const int64_t element_bytes = stored.row_bytes() / stored.cols;  // F32, F16 or BF16
    std::vector<uint8_t>& buffer =
        transposed_.emplace_back(static_cast<size_t>(in_features * out_features * element_bytes));
    if (element_bytes == 4) {
      transpose_elements<uint32_t>(stored.data, in_features, out_features, buffer.data());
    } else {
      transpose_elements<uint16_t>(stored.data, in_features, out_features, buffer.data());
    }
    return WeightMatrix{stored.type, out_features, in_features, buffer.data(), Device::kCpu};
  };
  auto layer_norm = [&](const std::string& name) {
    return LayerNorm(file.vector(name + ".weight", hidden), file.vector(name + ".bias", hidden),
                     eps);
  };
  auto linear = [&](const WeightMatrix& weight, const std::string& bias_name) {
    return make_linear(weight, file.vector(bias_name, weight.rows));
  };

  const WeightMatrix embedding = file.matrix(prefix + "wte.weight", config_.vocab_size, hidden);
  wte_ = VocabEmbedding(embedding);
  wpe_ = VocabEmbedding(
      file.matrix(prefix + "wpe.weight", config_.max_position_embeddings, hidden));
  blocks_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = fmt::format("{}h.{}.", prefix, i);
    GPT2Block& block = blocks_[i];
    block.ln_1 = layer_norm(p + "ln_1");
    set_qkv(block, conv1d(p + "attn.c_attn.weight", hidden, 3 * hidden),
            file.vector(p + "attn.c_attn.bias", 3 * hidden), hidden);
    block.c_proj = linear(conv1d(p + "attn.c_proj.weight", hidden, hidden), p + "attn.c_proj.bias");
    block.attn = Attention(i, config_.num_attention_heads, config_.num_attention_heads,
                           config_.head_dim, attention_options(config_));
    block.ln_2 = layer_norm(p + "ln_2");
    block.c_fc = linear(conv1d(p + "mlp.c_fc.weight", hidden, intermediate), p + "mlp.c_fc.bias");
    block.mlp_c_proj =
        linear(conv1d(p + "mlp.c_proj.weight", intermediate, hidden), p + "mlp.c_proj.bias");
  }
  ln_f_ = layer_norm(prefix + "ln_f");
  lm_head_ = config_.tie_word_embeddings
                 ? make_linear(embedding)
                 : make_linear(file.matrix("lm_head.weight", config_.vocab_size, hidden));

  // attn.bias and attn.masked_bias are causal-mask buffers of older checkpoints; a saved
  // lm_head.weight of a tied model is a copy of wte.
  const bool tied = config_.tie_word_embeddings;
  file.check_all_read([tied](const std::string& name) {
    return name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") ||
           (tied && name == "lm_head.weight");
  });
}

GPT2LMHeadModel::GPT2LMHeadModel(std::shared_ptr<GGUFFile> gguf, const ModelConfig& config)
    : gguf_(std::move(gguf)), config_(config) {
  const GGUFFile& file = *gguf_;
  const int64_t hidden = config_.hidden_size;
  const int64_t intermediate = config_.intermediate_size;
  const double eps = config_.layer_norm_eps;
  auto layer_norm = [&](const std::string& name) {
    return LayerNorm(gguf_vector(file, name + ".weight", hidden),
                     gguf_vector(file, name + ".bias", hidden), eps);
  };
  auto linear = [&](const std::string& name, int64_t out_features, int64_t in_features) {
    return make_linear(gguf_weight_matrix(file, name + ".weight", out_features, in_features),
                       gguf_vector(file, name + ".bias", out_features));
  };

  // A tied token table is also the LM head, streamed every step; the others are read by row.
  wte_ = VocabEmbedding(
      config_.tie_word_embeddings
          ? gguf_weight_matrix(file, "token_embd.weight", config_.vocab_size, hidden)
          : gguf_table_matrix(file, "token_embd.weight", config_.vocab_size, hidden));
  wpe_ = VocabEmbedding(gguf_table_matrix(file, "position_embd.weight",
                                           config_.max_position_embeddings, hidden));
  blocks_.resize(static_cast<size_t>(config_.num_hidden_layers));
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    const std::string p = fmt::format("blk.{}.", i);
    GPT2Block& block = blocks_[i];
    block.ln_1 = layer_norm(p + "attn_norm");
    set_qkv(block, gguf_weight_matrix(file, p + "attn_qkv.weight", 3 * hidden, hidden, hidden),
            gguf_vector(file, p + "attn_qkv.bias", 3 * hidden), hidden);
    block.c_proj = linear(p + "attn_output", hidden, hidden);
    block.attn = Attention(i, config_.num_attention_heads, config_.num_attention_heads,
                           config_.head_dim, attention_options(config_));
    block.ln_2 = layer_norm(p + "ffn_norm");
    block.c_fc = linear(p + "ffn_up", intermediate, hidden);
    block.mlp_c_proj = linear(p + "ffn_down", hidden, intermediate);
  }
  ln_f_ = layer_norm("output_norm");
  const char* head_name = config_.tie_word_embeddings ? "token_embd.weight" : "output.weight";
  lm_head_ = make_linear(gguf_weight_matrix(file, head_name, config_.vocab_size, hidden));

  // Tensors the model does not read are reported, not fatal: files may carry extras.
  const size_t expected = 4 + 12 * blocks_.size() + (config_.tie_word_embeddings ? 0 : 1);
  if (file.tensors().size() != expected) {
    VLLM_LOG_WARN("{}: {} tensors in the file, the model reads {}", file.path(),
                  file.tensors().size(), expected);
  }
}

void GPT2LMHeadModel::run_block(const GPT2Block& block, const ForwardBatch& batch,
                                KVCache& kv_cache) {
  const int64_t n = batch.num_tokens();

  block.ln_1.forward(act_.hidden, act_.normed);
  project_qkv(block.q_proj, block.k_proj, block.v_proj, n, act_);
  block.attn.forward(act_.query, act_.key, act_.value, batch, kv_cache, act_.attn_out);
  block.c_proj.forward(act_.attn_out, n, act_.proj_out);
  ops::add_inplace(Device::kCpu, act_.hidden, act_.proj_out);

  block.ln_2.forward(act_.hidden, act_.normed);
  block.c_fc.forward(act_.normed, n, act_.mlp_hidden);
  act_fn_.forward(act_.mlp_hidden, act_.mlp_hidden);
  block.mlp_c_proj.forward(act_.mlp_hidden, n, act_.proj_out);
  ops::add_inplace(Device::kCpu, act_.hidden, act_.proj_out);
}

void GPT2LMHeadModel::forward(const ForwardBatch& batch, KVCache& kv_cache,
                              std::span<float> logits) {
  const int64_t n = batch.num_tokens();
  check_forward_batch(batch, logits, config_.vocab_size);
  for (int32_t position : batch.positions) {
    if (position < 0 || position >= config_.max_position_embeddings) {
      throw InvalidArgument(fmt::format(
          "position {} is outside the {} learned positions of this GPT-2 model; keep "
          "max_model_len at most n_positions ({})",
          position, config_.max_position_embeddings, config_.max_position_embeddings));
    }
  }
  if (n == 0) return;

  act_.resize(n, config_, /*gated_mlp=*/false);
  position_.resize(act_.hidden.size());
  wte_.forward(batch.input_ids, act_.hidden);
  wpe_.forward(batch.positions, position_);
  ops::add_inplace(Device::kCpu, act_.hidden, position_);
  for (const GPT2Block& block : blocks_) run_block(block, batch, kv_cache);

  ln_f_.forward(act_.hidden, act_.normed);
  logits_processor_.forward(act_.normed, config_.hidden_size, batch.logits_indices, lm_head_,
                            logits, batch.logits_max_only);
}

std::unique_ptr<Model> load_gpt2_from_hf(std::shared_ptr<HfWeights> weights,
                                         const ModelConfig& config) {
  return std::make_unique<GPT2LMHeadModel>(std::move(weights), config);
}

std::unique_ptr<Model> load_gpt2_from_gguf(std::shared_ptr<GGUFFile> gguf,
                                           const ModelConfig& config) {
  return std::make_unique<GPT2LMHeadModel>(std::move(gguf), config);
}

}  // namespace vllm
