#include "models/decoder_block.h"

#include <memory>
#include <utility>

namespace vllm {

Linear make_linear(const WeightMatrix& weight, std::vector<float> bias) {
  return Linear(std::make_unique<BlockQuantLinearMethod>(weight), std::move(bias));
}

void DecoderActivations::resize(int64_t num_tokens, const ModelConfig& config,
                                bool gated_mlp) {
  const auto n = static_cast<size_t>(num_tokens);
  const auto q_size = static_cast<size_t>(config.num_attention_heads * config.head_dim);
  const auto kv_size = static_cast<size_t>(config.num_key_value_heads * config.head_dim);
  const auto hidden_size = static_cast<size_t>(config.hidden_size);
  const auto intermediate = static_cast<size_t>(config.intermediate_size);
  hidden.resize(n * hidden_size);
  normed.resize(n * hidden_size);
  query.resize(n * q_size);
  key.resize(n * kv_size);
  value.resize(n * kv_size);
  attn_out.resize(n * q_size);
  proj_out.resize(n * hidden_size);
  mlp_hidden.resize(n * intermediate);
  if (gated_mlp) up.resize(n * intermediate);
}

void project_qkv(const Linear& q_proj, const Linear& k_proj, const Linear& v_proj,
                 int64_t num_tokens, DecoderActivations& act) {
  const Linear* layers[] = {&q_proj, &k_proj, &v_proj};
  const std::span<float> outputs[] = {act.query, act.key, act.value};
  Linear::forward_shared_input(layers, act.normed, num_tokens, outputs);
}

}  // namespace vllm
