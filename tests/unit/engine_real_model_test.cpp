// Continuous-batching determinism and preemption on the real default model (SmolLM2-135M
// GGUF). Skipped when the model file is absent: set VLLM_TEST_MODEL to a .gguf path, or
// put the default model where resolve_model_path("") finds it.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"
#include "model_loader/gguf.h"
#include "models/model.h"
#include "vllm/engine.h"
#include "test_model.h"
#include "engine_test_util.h"

namespace vllm {
namespace {

using namespace std::chrono_literals;

struct Case {
  std::string id;
  std::string prompt;
  SamplingParams params;
};

std::vector<Case> cases() {
  SamplingParams greedy;
  greedy.temperature = 0.0;
  greedy.max_tokens = 6;
  greedy.ignore_eos = true;
  greedy.logprobs = 2;

  SamplingParams seeded;
  seeded.temperature = 0.8;
  seeded.top_p = 0.95;
  seeded.seed = 42;
  seeded.max_tokens = 6;
  seeded.ignore_eos = true;
  seeded.logprobs = 1;

  return {
      {"france", "The capital of France is a city that many people visit every", greedy},
      {"story", "Once upon a time, in a small village near the mountains, there", seeded},
      {"math", "Question: what is two plus three? Answer step by step:", greedy},
  };
}

std::map<std::string, RequestOutput> run_to_completion(LLMEngine& engine) {
  return testing::run_to_completion(engine, 120s, 200ms);
}

PromptInput text_prompt(const std::string& text) {
  PromptInput prompt;
  prompt.text = text;
  return prompt;
}

void expect_same(const RequestOutput& actual, const RequestOutput& expected) {
  const CompletionOutput& a = actual.outputs.at(0);
  const CompletionOutput& e = expected.outputs.at(0);
  EXPECT_EQ(a.token_ids, e.token_ids) << actual.request_id;
  EXPECT_EQ(a.text, e.text) << actual.request_id;
  ASSERT_TRUE(a.logprobs.has_value());
  ASSERT_TRUE(e.logprobs.has_value());
  ASSERT_EQ(a.logprobs->size(), e.logprobs->size());
  for (size_t t = 0; t < a.logprobs->size(); ++t) {
    for (const auto& [token, logprob] : (*a.logprobs)[t]) {
      ASSERT_TRUE((*e.logprobs)[t].count(token)) << actual.request_id << " token " << token;
      EXPECT_EQ(logprob.logprob, (*e.logprobs)[t].at(token).logprob)
          << actual.request_id << " step " << t;
    }
  }
}

EngineArgs base_args(const std::string& model) {
  EngineArgs args;
  args.model = model;
  args.max_model_len = 64;
  args.block_size = 16;
  args.max_num_batched_tokens = 8;  // prompts of about 12 tokens span two steps
  args.num_threads = 2;
  return args;
}

int64_t bytes_per_block(const std::string& model, int64_t block_size) {
  const ModelConfig config = model_config_from_gguf(*GGUFFile::open(model));
  const int64_t head_dim =
      config.head_dim > 0 ? config.head_dim : config.hidden_size / config.num_attention_heads;
  return KVCache::bytes_per_block(config.num_hidden_layers, block_size,
                                  config.num_key_value_heads, head_dim);
}

TEST(EngineRealModel, BatchingAndPreemption) {
  VLLM_REQUIRE_TEST_MODEL(model);

  EngineArgs roomy_args = base_args(model);
  roomy_args.kv_cache_memory_bytes = 32 * bytes_per_block(model, 16);
  LLMEngine engine(roomy_args);

  std::map<std::string, RequestOutput> alone;
  for (const Case& c : cases()) {
    engine.add_request(c.id, text_prompt(c.prompt), c.params);
    alone[c.id] = run_to_completion(engine).at(c.id);
  }

  for (const Case& c : cases()) engine.add_request(c.id, text_prompt(c.prompt), c.params);
  std::map<std::string, RequestOutput> together = run_to_completion(engine);
  EXPECT_GT(engine.stats().max_running_in_step, 1);
  EXPECT_GE(engine.stats().num_multi_step_prefills, 1);
  for (const Case& c : cases()) expect_same(together.at(c.id), alone.at(c.id));

  // 5 usable blocks of 16 tokens for three requests of about 20 tokens that each need
  // two blocks: the last admitted one is preempted and recomputed.
  EngineArgs tight_args = base_args(model);
  tight_args.max_num_batched_tokens = 64;
  tight_args.kv_cache_memory_bytes = 6 * bytes_per_block(model, 16);
  LLMEngine tight(tight_args);
  for (const Case& c : cases()) tight.add_request(c.id, text_prompt(c.prompt), c.params);
  std::map<std::string, RequestOutput> preempted = run_to_completion(tight);
  EXPECT_GE(tight.stats().num_preemptions, 1);
  for (const Case& c : cases()) expect_same(preempted.at(c.id), alone.at(c.id));
  EXPECT_EQ(tight.stats().num_free_blocks, tight.stats().num_total_blocks);
}

}  // namespace
}  // namespace vllm
