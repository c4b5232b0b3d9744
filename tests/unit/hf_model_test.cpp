// Hugging Face model directories: config.json and generation_config.json parsing, repo ids
// in the hub cache, loading a tiny directory through the engine, and SmolLM2 exported to a
// bfloat16 safetensors directory checked against transformers.
//
// tests/data/goldens/smollm2_bf16_hf.json is recorded by tools/export_smollm2_hf.py, which
// loads the directory that HfModel.MatchTransformers exports (see hf_export.h) with
// transformers in float32. The golden file stores the SHA-256 of that model.safetensors, so
// the test can tell a directory that differs from the goldens' source from a wrong result.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "golden_util.h"
#include "hf_export.h"
#include "model_loader/hf_cache.h"
#include "model_loader/model_resolver.h"
#include "models/model_config_hf.h"
#include "models/registry.h"
#include "safetensors_writer.h"
#include "scoped_env.h"
#include "test_model.h"
#include "tokenizer/tokenizer.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using testing::ScopedEnv;

void write_text(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

const char* kSmolConfig = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152,
  "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
  "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
  "max_position_embeddings": 8192, "rms_norm_eps": 1e-05, "rope_theta": 100000.0,
  "tie_word_embeddings": true, "hidden_act": "silu", "torch_dtype": "bfloat16",
  "rope_scaling": null, "attention_bias": false})";

std::string config_error(const std::string& text) {
  try {
    parse_hf_config(text, "dir/config.json");
  } catch (const ModelLoadError& error) {
    return error.what();
  }
  return "";
}

// kSmolConfig with `key` set to `value` (JSON text); a null value removes the key.
std::string smol_config_with(const std::string& key, const std::string& value) {
  nlohmann::json config = nlohmann::json::parse(kSmolConfig);
  if (value == "null") {
    config.erase(key);
  } else {
    config[key] = nlohmann::json::parse(value);
  }
  return config.dump();
}

TEST(HfConfig, ParsesLlama) {
  const ModelConfig config = parse_hf_config(kSmolConfig, "config.json");
  EXPECT_EQ(config.architecture, "LlamaForCausalLM");
  EXPECT_EQ(config.model_type, "llama");
  EXPECT_EQ(config.vocab_size, 49152);
  EXPECT_EQ(config.hidden_size, 576);
  EXPECT_EQ(config.intermediate_size, 1536);
  EXPECT_EQ(config.num_hidden_layers, 30);
  EXPECT_EQ(config.num_attention_heads, 9);
  EXPECT_EQ(config.num_key_value_heads, 3);
  EXPECT_EQ(config.head_dim, 64);
  EXPECT_EQ(config.max_position_embeddings, 8192);
  EXPECT_DOUBLE_EQ(config.rms_norm_eps, 1e-5);
  EXPECT_DOUBLE_EQ(config.rope_theta, 100000.0);
  EXPECT_TRUE(config.tie_word_embeddings);
  EXPECT_TRUE(config.quantization.empty());
}

// LlamaConfig's defaults (transformers 5.25) for the optional fields.
TEST(HfConfig, Defaults) {
  nlohmann::json config = nlohmann::json::parse(kSmolConfig);
  for (const char* key : {"num_key_value_heads", "head_dim", "rms_norm_eps", "rope_theta",
                          "tie_word_embeddings"}) {
    config.erase(key);
  }
  const ModelConfig parsed = parse_hf_config(config.dump(), "config.json");
  EXPECT_EQ(parsed.num_key_value_heads, 9);
  EXPECT_EQ(parsed.head_dim, 64);
  EXPECT_DOUBLE_EQ(parsed.rms_norm_eps, 1e-6);
  EXPECT_DOUBLE_EQ(parsed.rope_theta, 10000.0);
  EXPECT_FALSE(parsed.tie_word_embeddings);
}

// transformers 5 writes rope_theta inside rope_parameters.
TEST(HfConfig, RopeParameters) {
  nlohmann::json config = nlohmann::json::parse(kSmolConfig);
  config.erase("rope_theta");
  config["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 500000.0}};
  EXPECT_DOUBLE_EQ(parse_hf_config(config.dump(), "config.json").rope_theta, 500000.0);
}

TEST(HfConfig, UnsupportedArchitecture) {
  const std::string message =
      config_error(smol_config_with("architectures", R"(["FalconForCausalLM"])"));
  EXPECT_TRUE(contains(message, "dir/config.json")) << message;
  EXPECT_TRUE(contains(message, "'FalconForCausalLM' is not supported")) << message;
  EXPECT_TRUE(contains(message, "LlamaForCausalLM")) << message;
}

TEST(HfConfig, MissingArchitectures) {
  const std::string message = config_error(smol_config_with("architectures", "null"));
  EXPECT_TRUE(contains(message, "architectures")) << message;
}

TEST(HfConfig, MissingField) {
  const std::string message = config_error(smol_config_with("hidden_size", "null"));
  EXPECT_TRUE(contains(message, "missing required field \"hidden_size\"")) << message;
}

TEST(HfConfig, WrongFieldType) {
  const std::string message = config_error(smol_config_with("num_hidden_layers", "\"30\""));
  EXPECT_TRUE(contains(message, "num_hidden_layers")) << message;
  EXPECT_TRUE(contains(message, "expected an integer")) << message;
}

TEST(HfConfig, UnsupportedRopeRejected) {
  const std::string message = config_error(smol_config_with(
      "rope_scaling", R"({"rope_type": "yarn", "factor": 8.0})"));
  EXPECT_TRUE(contains(message, "yarn")) << message;
}

TEST(HfConfig, Llama3RopeNeedsOriginalContext) {
  const std::string message = config_error(smol_config_with(
      "rope_scaling", R"({"rope_type": "llama3", "factor": 8.0})"));
  EXPECT_TRUE(contains(message, "original_max_position_embeddings")) << message;
}

TEST(HfConfig, HeadsNotMultiple) {
  const std::string message = config_error(smol_config_with("num_key_value_heads", "4"));
  EXPECT_TRUE(contains(message, "num_key_value_heads=4")) << message;
}

TEST(HfConfig, AttentionBiasRejected) {
  const std::string message = config_error(smol_config_with("attention_bias", "true"));
  EXPECT_TRUE(contains(message, "attention_bias")) << message;
}

TEST(HfConfig, InvalidJson) {
  const std::string message = config_error("{\"architectures\": ");
  EXPECT_TRUE(contains(message, "invalid JSON")) << message;
}

TEST(GenerationConfig, SamplingFields) {
  const GenerationDefaults defaults = parse_generation_config(
      R"({"bos_token_id": 1, "temperature": 0.6, "top_p": 0.9, "top_k": 20, "min_p": 0.05,
          "repetition_penalty": 1.1, "max_new_tokens": 100, "do_sample": true})",
      "generation_config.json");
  EXPECT_EQ(defaults.temperature, 0.6);
  EXPECT_EQ(defaults.top_p, 0.9);
  EXPECT_EQ(defaults.top_k, 20);
  EXPECT_EQ(defaults.min_p, 0.05);
  EXPECT_EQ(defaults.repetition_penalty, 1.1);
  EXPECT_EQ(defaults.max_new_tokens, 100);
}

TEST(GenerationConfig, NoSamplingFields) {
  EXPECT_TRUE(parse_generation_config(R"({"bos_token_id": 1, "eos_token_id": 2})", "g").empty());
}

TEST(GenerationConfig, WrongType) {
  try {
    parse_generation_config(R"({"top_k": 0.5})", "g.json");
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "top_k")) << error.what();
  }
}

class HfCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hf_model_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    hub_cache_.set((dir_ / "hub").string());
    hf_home_.unset();
    vllm_cache_.set((dir_ / "vllm").string());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Makes models--org--name with refs/<ref> -> commit and snapshots/<commit>/config.json.
  // The ref file ends with a newline, which the lookup must strip.
  fs::path add_snapshot(const std::string& ref, const std::string& commit) {
    const fs::path repo = dir_ / "hub" / "models--org--name";
    write_text(repo / "refs" / ref, commit + "\n");
    const fs::path snapshot = repo / "snapshots" / commit;
    write_text(snapshot / "config.json", "{}");
    return snapshot;
  }

  fs::path dir_;
  ScopedEnv hub_cache_{"HF_HUB_CACHE"};
  ScopedEnv hf_home_{"HF_HOME"};
  ScopedEnv vllm_cache_{"VLLM_CACHE_ROOT"};
};

TEST_F(HfCacheTest, HubCacheVariables) {
  EXPECT_EQ(hf_hub_cache_dir(), (dir_ / "hub").string());
  hub_cache_.unset();
  hf_home_.set((dir_ / "home").string());
  EXPECT_EQ(hf_hub_cache_dir(), (dir_ / "home" / "hub").string());
}

TEST_F(HfCacheTest, RepoIdShape) {
  EXPECT_TRUE(looks_like_repo_id("org/name"));
  EXPECT_FALSE(looks_like_repo_id("name"));
  EXPECT_FALSE(looks_like_repo_id("/abs/path"));
  EXPECT_FALSE(looks_like_repo_id("a/b/c"));
  EXPECT_FALSE(looks_like_repo_id("../x"));
}

TEST_F(HfCacheTest, ResolvesMain) {
  const fs::path snapshot = add_snapshot("main", "abc123");
  EXPECT_EQ(resolve_model_path("org/name"), snapshot.string());
}

TEST_F(HfCacheTest, ResolvesBranchAndCommit) {
  add_snapshot("main", "aaa");
  const fs::path dev = add_snapshot("dev", "bbb");
  EXPECT_EQ(resolve_model_path_at_revision("org/name", "dev"), dev.string());
  EXPECT_EQ(resolve_model_path_at_revision("org/name", "bbb"), dev.string());
}

TEST_F(HfCacheTest, MissingRevisionListsPaths) {
  add_snapshot("main", "aaa");
  try {
    resolve_model_path_at_revision("org/name", "v2");
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    const std::string message = error.what();
    EXPECT_TRUE(contains(message, "revision v2")) << message;
    EXPECT_TRUE(contains(message, (dir_ / "hub" / "models--org--name" / "refs" / "v2").string()))
        << message;
  }
}

TEST_F(HfCacheTest, RevisionCannotEscape) {
  EXPECT_THROW(resolve_model_path_at_revision("org/name", "../../x"), InvalidArgument);
}

// A small llama in HF layout with random bfloat16 weights and SmolLM2's tokenizer, written
// into `dir`; `skip` names a tensor to leave out and `extra` adds one.
void write_tiny_llama(const fs::path& dir, const std::string& skip = "",
                      const std::string& extra = "") {
  constexpr int64_t kVocab = 49152, kHidden = 16, kIntermediate = 32, kLayers = 2;
  constexpr int64_t kHeads = 2, kKvHeads = 1, kHeadDim = 8;
  std::mt19937 generator(7);
  std::normal_distribution<float> normal(0.0f, 0.5f);
  auto tensor = [&](const std::string& name, std::vector<int64_t> shape) {
    int64_t count = 1;
    for (int64_t dim : shape) count *= dim;
    std::vector<uint8_t> bytes;
    for (int64_t i = 0; i < count; ++i) {
      const uint16_t bits = float_to_bf16(normal(generator));
      bytes.push_back(static_cast<uint8_t>(bits));
      bytes.push_back(static_cast<uint8_t>(bits >> 8));
    }
    return testing::TensorToWrite{name, "BF16", std::move(shape), std::move(bytes)};
  };
  std::vector<testing::TensorToWrite> tensors;
  tensors.push_back(tensor("model.embed_tokens.weight", {kVocab, kHidden}));
  tensors.push_back(tensor("model.norm.weight", {kHidden}));
  for (int64_t i = 0; i < kLayers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    tensors.push_back(tensor(p + "input_layernorm.weight", {kHidden}));
    tensors.push_back(tensor(p + "post_attention_layernorm.weight", {kHidden}));
    tensors.push_back(tensor(p + "self_attn.q_proj.weight", {kHeads * kHeadDim, kHidden}));
    tensors.push_back(tensor(p + "self_attn.k_proj.weight", {kKvHeads * kHeadDim, kHidden}));
    tensors.push_back(tensor(p + "self_attn.v_proj.weight", {kKvHeads * kHeadDim, kHidden}));
    tensors.push_back(tensor(p + "self_attn.o_proj.weight", {kHidden, kHeads * kHeadDim}));
    tensors.push_back(tensor(p + "mlp.gate_proj.weight", {kIntermediate, kHidden}));
    tensors.push_back(tensor(p + "mlp.up_proj.weight", {kIntermediate, kHidden}));
    tensors.push_back(tensor(p + "mlp.down_proj.weight", {kHidden, kIntermediate}));
  }
  if (!extra.empty()) tensors.push_back(tensor(extra, {2}));
  std::erase_if(tensors, [&](const testing::TensorToWrite& t) { return t.name == skip; });

  fs::create_directories(dir);
  testing::write_file_bytes((dir / "model.safetensors").string(),
                            testing::safetensors_bytes(tensors));
  nlohmann::json config = nlohmann::json::parse(kSmolConfig);
  config["hidden_size"] = kHidden;
  config["intermediate_size"] = kIntermediate;
  config["num_hidden_layers"] = kLayers;
  config["num_attention_heads"] = kHeads;
  config["num_key_value_heads"] = kKvHeads;
  config["head_dim"] = kHeadDim;
  config["max_position_embeddings"] = 128;
  write_text(dir / "config.json", config.dump());
  const fs::path tokenizer_dir = fs::path(VLLM_TEST_DATA_DIR) / "smollm2";
  for (const char* file : {"tokenizer.json", "tokenizer_config.json"}) {
    fs::copy_file(tokenizer_dir / file, dir / file, fs::copy_options::overwrite_existing);
  }
}

EngineArgs tiny_engine_args(const fs::path& dir) {
  EngineArgs args;
  args.model = dir.string();
  args.max_model_len = 64;
  args.kv_cache_memory_bytes = int64_t{4} << 20;
  args.num_threads = 1;
  return args;
}

// Greedy token ids of `prompt` with `max_tokens` tokens, and their logprobs.
std::pair<std::vector<int32_t>, std::vector<double>> greedy(LLMEngine& engine,
                                                            const std::string& prompt,
                                                            int max_tokens) {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = max_tokens;
  params.ignore_eos = true;
  params.logprobs = 1;
  PromptInput input;
  input.text = prompt;
  engine.add_request("r", input, params);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (std::chrono::steady_clock::now() < deadline) {
    for (RequestOutput& output : engine.get_outputs(std::chrono::milliseconds(50))) {
      if (!output.finished) continue;
      const CompletionOutput& completion = output.outputs.at(0);
      std::vector<double> logprobs;
      for (size_t step = 0; step < completion.token_ids.size(); ++step) {
        logprobs.push_back(completion.logprobs->at(step).at(completion.token_ids[step]).logprob);
      }
      return {completion.token_ids, logprobs};
    }
  }
  ADD_FAILURE() << "request did not finish";
  return {};
}

TEST_F(HfCacheTest, TinyModelGenerates) {
  write_tiny_llama(dir_ / "tiny");
  LLMEngine engine(tiny_engine_args(dir_ / "tiny"));
  EXPECT_EQ(engine.model_config().architecture, "LlamaForCausalLM");
  EXPECT_EQ(engine.model_config().hidden_size, 16);
  EXPECT_EQ(engine.tokenizer().eos_token_id(), 2);  // <|im_end|> from tokenizer_config.json
  EXPECT_FALSE(engine.tokenizer().chat_template().empty());
  const auto [tokens, logprobs] = greedy(engine, "Hello there", 4);
  EXPECT_EQ(tokens.size(), 4u);
}

// bfloat16 weights widen to float32 exactly, so both dtypes give the same greedy tokens;
// the logprobs may differ only by summation order inside the kernels.
TEST_F(HfCacheTest, TinyModelDtypeFloat32) {
  write_tiny_llama(dir_ / "tiny");
  LLMEngine bf16_engine(tiny_engine_args(dir_ / "tiny"));
  EngineArgs args = tiny_engine_args(dir_ / "tiny");
  args.dtype = "float32";
  LLMEngine f32_engine(args);
  const auto bf16 = greedy(bf16_engine, "Hello there", 6);
  const auto f32 = greedy(f32_engine, "Hello there", 6);
  EXPECT_EQ(bf16.first, f32.first);
  ASSERT_EQ(bf16.second.size(), f32.second.size());
  for (size_t i = 0; i < bf16.second.size(); ++i) {
    EXPECT_NEAR(bf16.second[i], f32.second[i], 1e-4) << "step " << i;
  }
}

TEST_F(HfCacheTest, TinyModelMissingTensor) {
  write_tiny_llama(dir_ / "tiny", "model.layers.1.mlp.up_proj.weight");
  try {
    LLMEngine engine(tiny_engine_args(dir_ / "tiny"));
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "missing tensor 'model.layers.1.mlp.up_proj.weight'"))
        << error.what();
  }
}

// A vocab_size far beyond the embedding table is a shape error, not an allocation of that
// many rows.
TEST_F(HfCacheTest, TinyModelHugeVocabSize) {
  write_tiny_llama(dir_ / "tiny");
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir_ / "tiny" / "config.json"));
  config["vocab_size"] = int64_t{1000000000000};
  write_text(dir_ / "tiny" / "config.json", config.dump());
  try {
    LLMEngine engine(tiny_engine_args(dir_ / "tiny"));
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "model.embed_tokens.weight")) << error.what();
    EXPECT_TRUE(contains(error.what(), "1000000000000")) << error.what();
  }
}

TEST_F(HfCacheTest, TinyModelUnexpectedTensor) {
  write_tiny_llama(dir_ / "tiny", "", "model.layers.0.self_attn.q_norm.weight");
  try {
    LLMEngine engine(tiny_engine_args(dir_ / "tiny"));
    FAIL() << "expected ModelLoadError";
  } catch (const ModelLoadError& error) {
    EXPECT_TRUE(contains(error.what(), "model.layers.0.self_attn.q_norm.weight")) << error.what();
  }
}

TEST_F(HfCacheTest, GenerationConfigDefaults) {
  write_tiny_llama(dir_ / "tiny");
  write_text(dir_ / "tiny" / "generation_config.json",
             R"({"temperature": 0.6, "top_p": 0.95, "top_k": 20, "max_new_tokens": 50})");
  {
    LLMEngine engine(tiny_engine_args(dir_ / "tiny"));
    const SamplingParams params = engine.default_sampling_params();
    EXPECT_DOUBLE_EQ(params.temperature, 0.6);
    EXPECT_DOUBLE_EQ(params.top_p, 0.95);
    EXPECT_EQ(params.top_k, 20);
    EXPECT_EQ(params.max_tokens, 50);
    EXPECT_DOUBLE_EQ(params.min_p, 0.0);  // absent from the file: vLLM's default
  }
  EngineArgs args = tiny_engine_args(dir_ / "tiny");
  args.generation_config = "vllm";
  LLMEngine engine(args);
  EXPECT_DOUBLE_EQ(engine.default_sampling_params().temperature, 1.0);
  EXPECT_EQ(engine.default_sampling_params().max_tokens, SamplingParams().max_tokens);
}

TEST_F(HfCacheTest, TinyModelFromRepoId) {
  const fs::path snapshot = add_snapshot("main", "c0ffee");
  fs::remove(snapshot / "config.json");
  write_tiny_llama(snapshot);
  EngineArgs args = tiny_engine_args(dir_);
  args.model = "org/name";
  LLMEngine engine(args);
  EXPECT_EQ(engine.model_config().hidden_size, 16);
}

// --- SmolLM2 exported to bfloat16 safetensors, against transformers ---

constexpr const char* kExportName = "SmolLM2-135M-Instruct-bf16";

using testing::GoldenPrompt;
using testing::Goldens;

// Both sides compute in float32 from identical bfloat16 weights, so the rule of the GGUF
// golden test applies unchanged.
Goldens load_goldens() { return testing::load_goldens("smollm2_bf16_hf.json"); }

std::string sha256_of_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
  std::vector<char> buffer(1 << 20);
  while (file) {
    file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    EVP_DigestUpdate(context, buffer.data(), static_cast<size_t>(file.gcount()));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_DigestFinal_ex(context, digest, &length);
  EVP_MD_CTX_free(context);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// Returns $VLLM_CACHE_ROOT/models/SmolLM2-135M-Instruct-bf16, exporting it from the GGUF
// file first when absent.
fs::path exported_smollm2_dir(const std::string& gguf_path) {
  const fs::path dir = fs::path(vllm_cache_root()) / "models" / kExportName;
  if (!fs::is_regular_file(dir / "model.safetensors")) {
    testing::export_llama_gguf_to_hf(gguf_path, fs::path(VLLM_TEST_DATA_DIR) / "smollm2", dir);
  }
  return dir;
}

TEST(HfModel, GoldenFileConsistent) {
  const Goldens goldens = load_goldens();
  EXPECT_EQ(goldens.prompts.size(), 8u);
  EXPECT_EQ(goldens.num_top_logprobs, 5);
  EXPECT_EQ(goldens.safetensors_sha256.size(), 64u);
  for (const GoldenPrompt& prompt : goldens.prompts) {
    ASSERT_EQ(prompt.output_token_ids.size(), static_cast<size_t>(goldens.max_tokens))
        << prompt.name;
    ASSERT_EQ(prompt.top_logprobs.size(), prompt.output_token_ids.size()) << prompt.name;
    for (size_t step = 0; step < prompt.top_logprobs.size(); ++step) {
      ASSERT_EQ(prompt.top_logprobs[step].size(), 5u) << prompt.name << " step " << step;
      EXPECT_EQ(prompt.top_logprobs[step].front().token_id, prompt.output_token_ids[step])
          << prompt.name << " step " << step;
    }
  }
}

// The export keeps every tensor name and shape that transformers expects, and its q_proj
// rows are in HF's rotate-half order: the reordering on load must restore the GGUF bytes.
TEST(HfModel, ExportedDirectory) {
  VLLM_REQUIRE_TEST_MODEL(gguf_path);
  const fs::path dir = exported_smollm2_dir(gguf_path);
  const ModelConfig config = load_hf_config(dir.string());
  EXPECT_EQ(config.num_hidden_layers, 30);
  EXPECT_EQ(config.num_key_value_heads, 3);
  EXPECT_TRUE(config.tie_word_embeddings);
  const auto checkpoint = SafetensorsCheckpoint::open(dir.string());
  EXPECT_EQ(checkpoint->tensor_names().size(), 272u);
  const auto [info, file] = checkpoint->find("model.layers.0.self_attn.k_proj.weight");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->dtype, "BF16");
  EXPECT_EQ(info->shape, (std::vector<int64_t>{192, 576}));
}

// Greedy outputs and logprobs of the engine on the exported directory against transformers
// on the same directory, all prompts in one batch, by the rule of the GGUF golden test.
TEST(HfModel, MatchTransformers) {
  VLLM_REQUIRE_TEST_MODEL(gguf_path);
  const Goldens goldens = load_goldens();
  const fs::path dir = exported_smollm2_dir(gguf_path);
  ASSERT_EQ(sha256_of_file(dir / "model.safetensors"), goldens.safetensors_sha256)
      << dir << " differs from the directory the goldens were recorded on; if the export "
      << "changed on purpose, delete the directory, rerun this test to export it, then "
      << "rerun tools/export_smollm2_hf.py";

  testing::expect_match_goldens(goldens, testing::generate_goldens(dir.string(), goldens));
}

}  // namespace
}  // namespace vllm
