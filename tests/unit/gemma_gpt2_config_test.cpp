// config.json parsing of Gemma 2, Gemma 3 and GPT-2. The expected values are the fields and
// defaults of transformers 5.25's Gemma2Config, Gemma3TextConfig and GPT2Config. The
// hub-style files below use the older field names those classes still read
// (rope_local_base_freq, sliding_window_pattern, n_ctx).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/errors.h"
#include "models/model_config_hf.h"

namespace vllm {
namespace {

using json = nlohmann::json;

ModelConfig parse(const json& config) { return parse_hf_config(config.dump(), "config.json"); }

json gemma2_config() {
  return json{{"architectures", {"Gemma2ForCausalLM"}},
              {"model_type", "gemma2"},
              {"vocab_size", 256000},
              {"hidden_size", 2304},
              {"intermediate_size", 9216},
              {"num_hidden_layers", 4},
              {"num_attention_heads", 8},
              {"num_key_value_heads", 4},
              {"head_dim", 256},
              {"max_position_embeddings", 8192},
              {"rms_norm_eps", 1e-6},
              {"rope_theta", 10000.0},
              {"hidden_act", "gelu_pytorch_tanh"},
              {"hidden_activation", "gelu_pytorch_tanh"},
              {"query_pre_attn_scalar", 256},
              {"sliding_window", 4096},
              {"attn_logit_softcapping", 50.0},
              {"final_logit_softcapping", 30.0}};
}

// Gemma 3 as released on the hub: old-style rope fields and sliding_window_pattern.
json gemma3_hub_config() {
  return json{{"architectures", {"Gemma3ForCausalLM"}},
              {"model_type", "gemma3_text"},
              {"vocab_size", 262144},
              {"hidden_size", 640},
              {"intermediate_size", 2048},
              {"num_hidden_layers", 8},
              {"num_attention_heads", 4},
              {"num_key_value_heads", 1},
              {"head_dim", 256},
              {"max_position_embeddings", 32768},
              {"rms_norm_eps", 1e-6},
              {"rope_theta", 1000000.0},
              {"rope_local_base_freq", 10000.0},
              {"rope_scaling", nullptr},
              {"query_pre_attn_scalar", 256},
              {"sliding_window", 512},
              {"sliding_window_pattern", 6},
              {"attn_logit_softcapping", nullptr},
              {"final_logit_softcapping", nullptr},
              {"hidden_activation", "gelu_pytorch_tanh"}};
}

std::vector<std::string> pattern(std::initializer_list<bool> sliding) {
  std::vector<std::string> types;
  for (bool s : sliding) types.push_back(s ? "sliding_attention" : "full_attention");
  return types;
}

TEST(GemmaConfig, Gemma2Fields) {
  const ModelConfig config = parse(gemma2_config());
  EXPECT_EQ(config.architecture, "Gemma2ForCausalLM");
  EXPECT_EQ(config.head_dim, 256);
  EXPECT_EQ(config.hidden_act, "gelu_pytorch_tanh");
  EXPECT_DOUBLE_EQ(config.query_pre_attn_scalar, 256.0);
  EXPECT_DOUBLE_EQ(config.attn_logit_softcapping, 50.0);
  EXPECT_DOUBLE_EQ(config.final_logit_softcapping, 30.0);
  EXPECT_EQ(config.sliding_window, 4096);
  EXPECT_EQ(config.layer_types, pattern({true, false, true, false}));
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_DOUBLE_EQ(config.rope_local_base_freq, 0.0);
}

TEST(GemmaConfig, Gemma2Defaults) {
  json config = gemma2_config();
  for (const char* key : {"head_dim", "query_pre_attn_scalar", "sliding_window",
                          "attn_logit_softcapping", "final_logit_softcapping",
                          "hidden_activation"}) {
    config.erase(key);
  }
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.head_dim, 256);
  EXPECT_DOUBLE_EQ(parsed.query_pre_attn_scalar, 256.0);
  EXPECT_EQ(parsed.sliding_window, 4096);
  EXPECT_DOUBLE_EQ(parsed.attn_logit_softcapping, 50.0);
  EXPECT_DOUBLE_EQ(parsed.final_logit_softcapping, 30.0);
  EXPECT_EQ(parsed.hidden_act, "gelu_pytorch_tanh");
}

TEST(GemmaConfig, NullSoftCapDisables) {
  json config = gemma2_config();
  config["attn_logit_softcapping"] = nullptr;
  config["final_logit_softcapping"] = nullptr;
  const ModelConfig parsed = parse(config);
  EXPECT_DOUBLE_EQ(parsed.attn_logit_softcapping, 0.0);
  EXPECT_DOUBLE_EQ(parsed.final_logit_softcapping, 0.0);
}

TEST(GemmaConfig, Gemma3HubFields) {
  const ModelConfig config = parse(gemma3_hub_config());
  EXPECT_EQ(config.architecture, "Gemma3ForCausalLM");
  EXPECT_DOUBLE_EQ(config.rope_theta, 1000000.0);
  EXPECT_DOUBLE_EQ(config.rope_local_base_freq, 10000.0);
  EXPECT_EQ(config.rope_scaling.rope_type, "default");
  EXPECT_EQ(config.sliding_window, 512);
  EXPECT_EQ(config.layer_types, pattern({true, true, true, true, true, false, true, true}));
  EXPECT_DOUBLE_EQ(config.attn_logit_softcapping, 0.0);
  EXPECT_DOUBLE_EQ(config.final_logit_softcapping, 0.0);
}

TEST(GemmaConfig, Gemma3DefaultPatternIsSix) {
  json config = gemma3_hub_config();
  config.erase("sliding_window_pattern");
  config["num_hidden_layers"] = 12;
  EXPECT_EQ(parse(config).layer_types,
            pattern({true, true, true, true, true, false, true, true, true, true, true, false}));
}

TEST(GemmaConfig, Gemma3LayerTypesWin) {
  json config = gemma3_hub_config();
  config["num_hidden_layers"] = 3;
  config["layer_types"] = {"full_attention", "sliding_attention", "full_attention"};
  EXPECT_EQ(parse(config).layer_types, pattern({false, true, false}));
}

TEST(GemmaConfig, Gemma3OldStyleLinearScaling) {
  json config = gemma3_hub_config();
  config["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.rope_scaling.rope_type, "linear");
  EXPECT_DOUBLE_EQ(parsed.rope_scaling.factor, 8.0);
  EXPECT_DOUBLE_EQ(parsed.rope_local_base_freq, 10000.0);
}

// transformers 5 saves rope settings nested by layer type.
TEST(GemmaConfig, Gemma3NestedRopeParameters) {
  json config = gemma3_hub_config();
  config.erase("rope_theta");
  config.erase("rope_local_base_freq");
  config.erase("rope_scaling");
  config["rope_parameters"] = {
      {"full_attention", {{"rope_type", "linear"}, {"factor", 2.0}, {"rope_theta", 500000.0}}},
      {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 20000.0}}}};
  const ModelConfig parsed = parse(config);
  EXPECT_DOUBLE_EQ(parsed.rope_theta, 500000.0);
  EXPECT_EQ(parsed.rope_scaling.rope_type, "linear");
  EXPECT_DOUBLE_EQ(parsed.rope_scaling.factor, 2.0);
  EXPECT_DOUBLE_EQ(parsed.rope_local_base_freq, 20000.0);
}

TEST(GemmaConfig, RejectsScaledLocalRope) {
  json config = gemma3_hub_config();
  config["rope_parameters"] = {
      {"sliding_attention", {{"rope_type", "linear"}, {"factor", 2.0}}}};
  EXPECT_THROW(parse(config), ModelLoadError);
}

TEST(GemmaConfig, RejectsOtherActivation) {
  json config = gemma2_config();
  config["hidden_activation"] = "silu";
  EXPECT_THROW(parse(config), ModelLoadError);
}

TEST(GemmaConfig, RejectsBidirectional) {
  json config = gemma3_hub_config();
  config["use_bidirectional_attention"] = true;
  EXPECT_THROW(parse(config), ModelLoadError);
}

TEST(GemmaConfig, RejectsBadLayerTypes) {
  json config = gemma2_config();
  config["layer_types"] = {"sliding_attention", "full_attention"};  // 4 layers
  EXPECT_THROW(parse(config), ModelLoadError);
  config["layer_types"] = {"sliding_attention", "full_attention", "chunked_attention",
                           "full_attention"};
  EXPECT_THROW(parse(config), ModelLoadError);
}

json gpt2_hub_config() {
  return json{{"architectures", {"GPT2LMHeadModel"}},
              {"model_type", "gpt2"},
              {"activation_function", "gelu_new"},
              {"layer_norm_epsilon", 1e-5},
              {"n_ctx", 1024},
              {"n_embd", 768},
              {"n_head", 12},
              {"n_layer", 12},
              {"n_positions", 1024},
              {"vocab_size", 50257}};
}

TEST(GPT2Config, HubFields) {
  const ModelConfig config = parse(gpt2_hub_config());
  EXPECT_EQ(config.architecture, "GPT2LMHeadModel");
  EXPECT_EQ(config.hidden_size, 768);
  EXPECT_EQ(config.num_hidden_layers, 12);
  EXPECT_EQ(config.num_attention_heads, 12);
  EXPECT_EQ(config.num_key_value_heads, 12);
  EXPECT_EQ(config.head_dim, 64);
  EXPECT_EQ(config.intermediate_size, 4 * 768);  // n_inner absent
  EXPECT_EQ(config.max_position_embeddings, 1024);
  EXPECT_EQ(config.vocab_size, 50257);
  EXPECT_DOUBLE_EQ(config.layer_norm_eps, 1e-5);
  EXPECT_EQ(config.hidden_act, "gelu_new");
  EXPECT_TRUE(config.tie_word_embeddings);
}

TEST(GPT2Config, InnerSize) {
  json config = gpt2_hub_config();
  config["n_inner"] = 1000;
  EXPECT_EQ(parse(config).intermediate_size, 1000);
  config["n_inner"] = nullptr;
  EXPECT_EQ(parse(config).intermediate_size, 3072);
}

TEST(GPT2Config, RejectsUnsupportedOptions) {
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, json>>{{"add_cross_attention", true},
                                                 {"scale_attn_weights", false},
                                                 {"scale_attn_by_inverse_layer_idx", true},
                                                 {"activation_function", "relu"},
                                                 {"n_head", 7}}) {
    json config = gpt2_hub_config();
    config[key] = value;
    EXPECT_THROW(parse(config), ModelLoadError) << key;
  }
}

}  // namespace
}  // namespace vllm
