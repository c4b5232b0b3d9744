// Tiny random models of every supported architecture against HF transformers.
//
// Each directory in tests/data/tiny_models/ (written by tools/make_tiny_models.py) contains an
// HF checkpoint in float32 and goldens.json: greedy continuations with top-5 logprobs of 8
// prompts and the full logits of one prompt's last position, all recorded by transformers
// in float32. The engine loads the directory through its normal model path and must meet
// the goldens rule of golden_util.h, also when prompts are chunked and when they hit the
// prefix cache, with the same tokens in all three runs. Families with a GGUF conversion
// (<family>/gguf/model-f32.gguf) are also run from that file.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "golden_util.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

using testing::GoldenPrompt;
using testing::Goldens;

const std::filesystem::path kTinyModelsDir =
    std::filesystem::path(VLLM_TEST_DATA_DIR) / "tiny_models";

std::vector<std::string> tiny_model_families() {
  std::vector<std::string> families;
  if (!std::filesystem::is_directory(kTinyModelsDir)) return families;
  for (const auto& entry : std::filesystem::directory_iterator(kTinyModelsDir)) {
    if (std::filesystem::exists(entry.path() / "goldens.json")) {
      families.push_back(entry.path().filename().string());
    }
  }
  std::sort(families.begin(), families.end());
  return families;
}

EngineArgs tiny_engine_args(const std::string& family) {
  EngineArgs args;
  args.model = (kTinyModelsDir / family).string();
  args.dtype = "float32";
  args.max_model_len = 256;
  args.kv_cache_memory_bytes = int64_t{16} << 20;
  args.max_logprobs = -1;  // the full-logits test requests every token
  args.block_size = 4;     // several blocks per prompt, so prefix hits cover most of one
  return args;
}

void expect_same_tokens(const std::map<std::string, CompletionOutput>& expected,
                        const std::map<std::string, CompletionOutput>& actual,
                        const std::string& what) {
  for (const auto& [name, output] : expected) {
    auto it = actual.find(name);
    ASSERT_NE(it, actual.end()) << what << ": " << name << " did not finish";
    EXPECT_EQ(it->second.token_ids, output.token_ids) << what << ": " << name;
  }
}

class TinyModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  Goldens load() const {
    return testing::load_goldens("../tiny_models/" + GetParam() + "/goldens.json");
  }
};

// Whole prompts in one batch, then the same prompts chunked into 5-token steps, then again
// with the prefix cache warm: every run meets the goldens and yields the same tokens.
TEST_P(TinyModelTest, MatchTransformers) {
  const Goldens goldens = load();
  ASSERT_EQ(goldens.prompts.size(), 8u);

  EngineArgs args = tiny_engine_args(GetParam());
  args.enable_prefix_caching = false;
  std::map<std::string, CompletionOutput> whole;
  {
    LLMEngine engine(args);
    whole = testing::run_goldens(engine, goldens);
  }
  testing::expect_match_goldens(goldens, whole);

  args.max_num_batched_tokens = 5;
  args.max_num_seqs = 4;
  std::map<std::string, CompletionOutput> chunked;
  {
    LLMEngine engine(args);
    chunked = testing::run_goldens(engine, goldens);
    EXPECT_GT(engine.stats().num_multi_step_prefills, 0) << "no prompt was chunked";
  }
  testing::expect_match_goldens(goldens, chunked);
  expect_same_tokens(whole, chunked, "chunked");

  args = tiny_engine_args(GetParam());
  args.enable_prefix_caching = true;
  LLMEngine engine(args);
  testing::run_goldens(engine, goldens);  // fills the cache
  const std::map<std::string, CompletionOutput> cached = testing::run_goldens(engine, goldens);
  EXPECT_GT(engine.stats().prefix_cache_hits, 0) << "no prompt hit the prefix cache";
  testing::expect_match_goldens(goldens, cached);
  expect_same_tokens(whole, cached, "prefix-cached");
}

// The same goldens through the GGUF file that llama.cpp's converter made of the checkpoint,
// for the families that have one: the GGUF metadata must map to the same model.
TEST_P(TinyModelTest, GgufMatchesTransformers) {
  const std::filesystem::path gguf = kTinyModelsDir / GetParam() / "gguf" / "model-f32.gguf";
  if (!std::filesystem::exists(gguf)) GTEST_SKIP() << "no GGUF file for " << GetParam();
  const Goldens goldens = load();
  EngineArgs args = tiny_engine_args(GetParam());
  args.model = gguf.string();
  LLMEngine engine(args);
  testing::expect_match_goldens(goldens, testing::run_goldens(engine, goldens));
}

// log_softmax of transformers' float32 logits at one prompt's last position, every token.
TEST_P(TinyModelTest, FullLogprobs) {
  const std::filesystem::path path = kTinyModelsDir / GetParam() / "goldens.json";
  std::ifstream file(path);
  ASSERT_TRUE(file) << path;
  const nlohmann::json json = nlohmann::json::parse(file);
  const std::string prompt_name = json.at("full_logits").at("prompt").get<std::string>();
  const std::vector<double> logits = json.at("full_logits").at("logits").get<std::vector<double>>();
  std::vector<int32_t> prompt_ids;
  for (const auto& prompt : json.at("prompts")) {
    if (prompt.at("name") == prompt_name) {
      prompt_ids = prompt.at("prompt_token_ids").get<std::vector<int32_t>>();
    }
  }
  ASSERT_FALSE(prompt_ids.empty()) << "prompt " << prompt_name << " not in " << path;

  const double max_logit = *std::max_element(logits.begin(), logits.end());
  double sum = 0.0;
  for (double logit : logits) sum += std::exp(logit - max_logit);
  const double log_sum = max_logit + std::log(sum);

  LLMEngine engine(tiny_engine_args(GetParam()));
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 1;
  params.logprobs = static_cast<int>(logits.size());
  PromptInput input;
  input.token_ids = prompt_ids;
  engine.add_request("full", input, params);
  std::optional<CompletionOutput> result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!result && std::chrono::steady_clock::now() < deadline) {
    for (RequestOutput& output : engine.get_outputs(std::chrono::milliseconds(100))) {
      if (output.finished && !output.outputs.empty()) result = std::move(output.outputs.front());
    }
  }
  ASSERT_TRUE(result.has_value()) << "request did not finish";
  ASSERT_TRUE(result->logprobs.has_value());
  ASSERT_EQ(result->logprobs->size(), 1u);
  const std::map<int32_t, Logprob>& step = result->logprobs->front();
  ASSERT_GE(step.size(), logits.size());

  double max_diff = 0.0;
  int32_t worst_token = -1;
  for (size_t token = 0; token < logits.size(); ++token) {
    auto it = step.find(static_cast<int32_t>(token));
    ASSERT_NE(it, step.end()) << "token " << token << " missing from the logprobs";
    const double diff = std::abs(it->second.logprob - (logits[token] - log_sum));
    if (diff > max_diff) {
      max_diff = diff;
      worst_token = static_cast<int32_t>(token);
    }
  }
  EXPECT_LE(max_diff, testing::kGoldenLogprobTolerance) << "token " << worst_token;
  std::cout << GetParam() << ": max |dlogprob| over the vocabulary " << max_diff << "\n";
}

INSTANTIATE_TEST_SUITE_P(Families, TinyModelTest, ::testing::ValuesIn(tiny_model_families()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(TinyModelTest);

}  // namespace
}  // namespace vllm
