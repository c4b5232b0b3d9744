// Pieces of a pre-norm decoder layer that the Llama family, Gemma and GPT-2 run alike: the
// per-step activations and the projections around attention and the MLP. What differs
// between the families (norms, rotary embeddings, post-sublayer norms) stays in each model.
#pragma once

#include <cstdint>
#include <vector>

#include "layers/linear.h"
#include "models/model_config.h"

namespace vllm {

// A Linear over `weight` ([out_features, in_features], kept in its file format) with an
// optional bias ([out_features] or empty).
Linear make_linear(const WeightMatrix& weight, std::vector<float> bias = {});

// Per-step activations, resized each step and reused so that their capacity persists.
struct DecoderActivations {
  std::vector<float> hidden;      // [num_tokens, hidden_size] residual stream
  std::vector<float> normed;      // [num_tokens, hidden_size]
  std::vector<float> query;       // [num_tokens, num_heads, head_dim]
  std::vector<float> key;         // [num_tokens, num_kv_heads, head_dim]
  std::vector<float> value;       // [num_tokens, num_kv_heads, head_dim]
  std::vector<float> attn_out;    // [num_tokens, num_heads, head_dim]
  std::vector<float> proj_out;    // [num_tokens, hidden_size]
  // [num_tokens, intermediate_size] the MLP's hidden layer: gate_proj's output, then the
  // activation's (c_fc's for GPT-2's ungated MLP).
  std::vector<float> mlp_hidden;
  std::vector<float> up;          // [num_tokens, intermediate_size], empty without gating

  // Sizes every buffer for `num_tokens` tokens of a model shaped by `config`; `up` only
  // for a gated MLP.
  void resize(int64_t num_tokens, const ModelConfig& config, bool gated_mlp = true);
};

// Runs q_proj, k_proj and v_proj on act.normed into act.query, act.key and act.value.
void project_qkv(const Linear& q_proj, const Linear& k_proj, const Linear& v_proj,
                 int64_t num_tokens, DecoderActivations& act);

// Runs the gated MLP on act.normed into act.proj_out:
// down_proj(act_fn(gate_proj(x), up_proj(x))). GatedActivation is SiluAndMul or GeluTanhAndMul.
template <typename GatedActivation>
void gated_mlp(const Linear& gate_proj, const Linear& up_proj, const Linear& down_proj,
               const GatedActivation& act_fn, int64_t num_tokens, DecoderActivations& act) {
  const Linear* layers[] = {&gate_proj, &up_proj};
  const std::span<float> outputs[] = {act.mlp_hidden, act.up};
  Linear::forward_shared_input(layers, act.normed, num_tokens, outputs);
  act_fn.forward(act.mlp_hidden, act.up, act.mlp_hidden);
  down_proj.forward(act.mlp_hidden, num_tokens, act.proj_out);
}

}  // namespace vllm
