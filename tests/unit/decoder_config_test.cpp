// config.json options of the Llama-family architectures (sliding windows, rope scaling,
// partial rotary) as transformers 5.25 reads them, and the HF-to-GGUF tensor name map.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/errors.h"
#include "models/decoder_weights.h"
#include "models/model_config_hf.h"

namespace vllm {
namespace {

using json = nlohmann::json;

json base_config(const std::string& architecture) {
  return {{"architectures", {architecture}},
          {"vocab_size", 100},
          {"hidden_size", 64},
          {"intermediate_size", 128},
          {"num_hidden_layers", 3},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2},
          {"max_position_embeddings", 256}};
}

ModelConfig parse(const json& config) { return parse_hf_config(config.dump(), "config.json"); }

std::string parse_error(const json& config) {
  try {
    parse(config);
  } catch (const ModelLoadError& e) {
    return e.what();
  }
  return "";
}

const std::vector<std::string> kAllFull = {"full_attention", "full_attention", "full_attention"};

TEST(DecoderConfig, MistralWindowOnEveryLayer) {
  json config = base_config("MistralForCausalLM");
  config["sliding_window"] = 16;
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.sliding_window, 16);
  EXPECT_EQ(parsed.layer_types, std::vector<std::string>(3, "sliding_attention"));
}

TEST(DecoderConfig, MistralNullWindow) {
  json config = base_config("MistralForCausalLM");
  config["sliding_window"] = nullptr;
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.sliding_window, 0);
  EXPECT_TRUE(parsed.layer_types.empty());
}

// Qwen2 checkpoints set sliding_window while use_sliding_window is false; transformers
// then attends to the full context.
TEST(DecoderConfig, Qwen2WindowNeedsUseFlag) {
  json config = base_config("Qwen2ForCausalLM");
  config["sliding_window"] = 4096;
  config["use_sliding_window"] = false;
  config["max_window_layers"] = 1;
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.sliding_window, 0);
  EXPECT_TRUE(parsed.layer_types.empty());
}

TEST(DecoderConfig, Qwen2MaxWindowLayers) {
  json config = base_config("Qwen2ForCausalLM");
  config["sliding_window"] = 8;
  config["use_sliding_window"] = true;
  config["max_window_layers"] = 1;
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.sliding_window, 8);
  EXPECT_EQ(parsed.layer_types, (std::vector<std::string>{"full_attention", "sliding_attention",
                                                          "sliding_attention"}));
}

TEST(DecoderConfig, LayerTypesOverride) {
  json config = base_config("Qwen3ForCausalLM");
  config["sliding_window"] = 8;
  config["use_sliding_window"] = true;
  config["layer_types"] = kAllFull;
  EXPECT_EQ(parse(config).layer_types, kAllFull);
}

TEST(DecoderConfig, LayerTypesWrongLength) {
  json config = base_config("Qwen3ForCausalLM");
  config["sliding_window"] = 8;
  config["use_sliding_window"] = true;
  config["layer_types"] = {"full_attention"};
  EXPECT_NE(parse_error(config).find("layer_types"), std::string::npos);
}

TEST(DecoderConfig, LlamaWindowRejected) {
  json config = base_config("LlamaForCausalLM");
  config["sliding_window"] = 8;
  EXPECT_NE(parse_error(config).find("sliding_window"), std::string::npos);
}

TEST(DecoderConfig, Llama3Rope) {
  json config = base_config("LlamaForCausalLM");
  config["rope_parameters"] = {{"rope_type", "llama3"},
                               {"rope_theta", 500000.0},
                               {"factor", 32.0},
                               {"low_freq_factor", 1.0},
                               {"high_freq_factor", 4.0},
                               {"original_max_position_embeddings", 8192}};
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.rope_theta, 500000.0);
  EXPECT_EQ(parsed.rope_scaling.rope_type, "llama3");
  EXPECT_EQ(parsed.rope_scaling.factor, 32.0);
  EXPECT_EQ(parsed.rope_scaling.original_max_position_embeddings, 8192);
}

// Phi-3 configs written by transformers 4: "su" type, original context at the top level.
TEST(DecoderConfig, Phi3SuRope) {
  json config = base_config("Phi3ForCausalLM");
  config["original_max_position_embeddings"] = 64;
  config["partial_rotary_factor"] = 0.5;
  config["rope_scaling"] = {{"type", "su"},
                            {"short_factor", {1.0, 1.5, 2.0, 2.5}},
                            {"long_factor", {3.0, 3.5, 4.0, 4.5}}};
  const ModelConfig parsed = parse(config);
  EXPECT_EQ(parsed.rope_scaling.rope_type, "longrope");
  EXPECT_EQ(parsed.rope_scaling.original_max_position_embeddings, 64);
  EXPECT_EQ(parsed.rope_scaling.short_factor, (std::vector<double>{1.0, 1.5, 2.0, 2.5}));
  EXPECT_EQ(parsed.rope_scaling.long_factor, (std::vector<double>{3.0, 3.5, 4.0, 4.5}));
  EXPECT_FALSE(parsed.rope_scaling.attention_factor.has_value());
  EXPECT_EQ(parsed.partial_rotary_factor, 0.5);
}

TEST(DecoderConfig, LongropeNeedsOriginalContext) {
  json config = base_config("Phi3ForCausalLM");
  config["rope_scaling"] = {{"type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {1.0}}};
  EXPECT_NE(parse_error(config).find("original_max_position_embeddings"), std::string::npos);
}

TEST(DecoderConfig, PartialRotaryOutOfRange) {
  json config = base_config("Phi3ForCausalLM");
  config["partial_rotary_factor"] = 1.5;
  EXPECT_NE(parse_error(config).find("partial_rotary_factor"), std::string::npos);
}

TEST(GgufTensorName, Mapping) {
  EXPECT_EQ(gguf_tensor_name("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(gguf_tensor_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(gguf_tensor_name("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.12.self_attn.q_proj.bias"), "blk.12.attn_q.bias");
  EXPECT_EQ(gguf_tensor_name("model.layers.0.self_attn.k_norm.weight"),
            "blk.0.attn_k_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.3.self_attn.qkv_proj.weight"),
            "blk.3.attn_qkv.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.3.mlp.gate_up_proj.weight"), "blk.3.ffn_up.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.1.post_attention_layernorm.weight"),
            "blk.1.ffn_norm.weight");
}

TEST(GgufTensorName, UnknownRejected) {
  EXPECT_THROW(gguf_tensor_name("model.layers.0.self_attn.rotary_emb.inv_freq"), ModelLoadError);
  EXPECT_THROW(gguf_tensor_name("transformer.wte.weight"), ModelLoadError);
}

TEST(SliceRows, SharesStorage) {
  std::vector<float> data(6 * 4);
  const WeightMatrix whole{GGMLType::F32, 6, 4, reinterpret_cast<const uint8_t*>(data.data())};
  const WeightMatrix part = slice_rows(whole, 2, 3);
  EXPECT_EQ(part.rows, 3);
  EXPECT_EQ(part.cols, 4);
  EXPECT_EQ(part.data, reinterpret_cast<const uint8_t*>(data.data() + 2 * 4));
  EXPECT_ANY_THROW(slice_rows(whole, 4, 3));
}

TEST(DecoderConfig, RopeThetaMustBePositive) {
  for (const double theta : {0.0, -1.0}) {
    json config = base_config("Qwen2ForCausalLM");
    config["rope_theta"] = theta;
    EXPECT_NE(parse_error(config).find("rope_theta"), std::string::npos) << theta;
  }
}

TEST(DecoderConfig, HugeWindowRejected) {
  json config = base_config("MistralForCausalLM");
  config["sliding_window"] = int64_t{1'000'000'000'000'000};
  EXPECT_NE(parse_error(config).find("sliding_window"), std::string::npos);
}

}  // namespace
}  // namespace vllm
