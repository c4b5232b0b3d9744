// Prefix caching on the real default model (SmolLM2-135M GGUF): outputs and logprobs must
// be bit-identical with caching on and off, under chunked prefill and under preemption.
// Skipped when the model file is absent: set VLLM_TEST_MODEL to a .gguf path.
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
#include "tokenizer/tokenizer.h"
#include "vllm/engine.h"
#include "test_model.h"
#include "engine_test_util.h"

namespace vllm {
namespace {

using namespace std::chrono_literals;

constexpr int kBlockSize = 16;


struct Case {
  std::string id;
  std::vector<int32_t> prompt;
  SamplingParams params;
};

// Prompts sharing a system prompt: two questions, a second turn that extends the first,
// two seeded samples, and one prompt cut to exactly three blocks.
std::vector<Case> make_cases(const Tokenizer& tokenizer) {
  const std::string system =
      "<|im_start|>system\nYou are a helpful assistant named Smol. You answer briefly and "
      "politely, and you always explain your reasoning in one short sentence.<|im_end|>\n";
  const std::string question = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n";
  const std::string answer =
      "<|im_start|>assistant\nThe capital of France is Paris.<|im_end|>\n";
  const std::string follow_up = "<|im_start|>user\nAnd of Italy?<|im_end|>\n";
  const std::string other = "<|im_start|>user\nName a fruit that is red, and say where it grows.<|im_end|>\n";
  const std::string reply = "<|im_start|>assistant\n";
  auto encode = [&](const std::string& text) { return tokenizer.encode(text, false); };

  SamplingParams greedy;
  greedy.temperature = 0.0;
  greedy.max_tokens = 4;
  greedy.ignore_eos = true;
  greedy.logprobs = 2;
  SamplingParams seeded = greedy;
  seeded.temperature = 0.9;
  seeded.seed = 7;
  seeded.n = 2;

  std::vector<int32_t> boundary = encode(system + other + reply);
  EXPECT_GT(boundary.size(), 3u * kBlockSize);
  boundary.resize(3 * kBlockSize);
  return {
      {"first", encode(system + question + reply), greedy},
      {"second_turn", encode(system + question + answer + follow_up + reply), greedy},
      {"other", encode(system + other + reply), greedy},
      {"samples", encode(system + follow_up + reply), seeded},
      {"boundary", boundary, greedy},
  };
}

std::map<std::string, RequestOutput> run_to_completion(LLMEngine& engine) {
  return testing::run_to_completion(engine, 120s, 200ms);
}

// The first case alone, then the rest at once: later requests hit blocks of finished and
// of running requests.
std::map<std::string, RequestOutput> run_cases(LLMEngine& engine, const std::vector<Case>& cases) {
  PromptInput first;
  first.token_ids = cases[0].prompt;
  engine.add_request(cases[0].id, first, cases[0].params);
  std::map<std::string, RequestOutput> results = run_to_completion(engine);
  for (size_t i = 1; i < cases.size(); ++i) {
    PromptInput prompt;
    prompt.token_ids = cases[i].prompt;
    engine.add_request(cases[i].id, prompt, cases[i].params);
  }
  for (auto& [id, output] : run_to_completion(engine)) results[id] = std::move(output);
  return results;
}

void expect_same(const RequestOutput& actual, const RequestOutput& expected,
                 const std::string& label) {
  ASSERT_EQ(actual.outputs.size(), expected.outputs.size()) << label;
  for (size_t s = 0; s < actual.outputs.size(); ++s) {
    const CompletionOutput& a = actual.outputs[s];
    const CompletionOutput& e = expected.outputs[s];
    EXPECT_EQ(a.token_ids, e.token_ids) << label << " sample " << s;
    ASSERT_TRUE(a.logprobs.has_value()) << label;
    ASSERT_TRUE(e.logprobs.has_value()) << label;
    ASSERT_EQ(a.logprobs->size(), e.logprobs->size()) << label;
    for (size_t t = 0; t < a.logprobs->size(); ++t) {
      ASSERT_EQ((*a.logprobs)[t].size(), (*e.logprobs)[t].size()) << label << " step " << t;
      for (const auto& [token, logprob] : (*a.logprobs)[t]) {
        ASSERT_TRUE((*e.logprobs)[t].count(token)) << label << " token " << token;
        EXPECT_EQ(logprob.logprob, (*e.logprobs)[t].at(token).logprob)
            << label << " sample " << s << " step " << t;
      }
    }
  }
}

int64_t bytes_per_block(const std::string& model) {
  const ModelConfig config = model_config_from_gguf(*GGUFFile::open(model));
  const int64_t head_dim =
      config.head_dim > 0 ? config.head_dim : config.hidden_size / config.num_attention_heads;
  return KVCache::bytes_per_block(config.num_hidden_layers, kBlockSize,
                                  config.num_key_value_heads, head_dim);
}

EngineArgs base_args(const std::string& model) {
  EngineArgs args;
  args.model = model;
  args.max_model_len = 112;
  args.block_size = kBlockSize;
  args.max_num_batched_tokens = 512;
  args.kv_cache_memory_bytes = 64 * bytes_per_block(model);
  args.num_threads = 2;
  return args;
}

int64_t total_cached_tokens(const std::map<std::string, RequestOutput>& results) {
  int64_t total = 0;
  for (const auto& [id, output] : results) total += output.num_cached_tokens;
  return total;
}

// One test so that the reference run (caching off) is shared: runtime matters on 2 cores.
TEST(PrefixCacheRealModel, SameOutputsOnAndOff) {
  VLLM_REQUIRE_TEST_MODEL(model);

  EngineArgs off_args = base_args(model);
  off_args.enable_prefix_caching = false;
  LLMEngine off(off_args);
  const std::vector<Case> cases = make_cases(off.tokenizer());
  const std::map<std::string, RequestOutput> expected = run_cases(off, cases);
  EXPECT_EQ(total_cached_tokens(expected), 0);
  EXPECT_EQ(off.stats().prefix_cache_queries, 0);

  for (const int64_t chunk : {int64_t{512}, int64_t{16}, int64_t{7}, int64_t{1}}) {
    const std::string label = "chunk " + std::to_string(chunk);
    EngineArgs args = base_args(model);
    args.max_num_batched_tokens = chunk;
    LLMEngine engine(args);
    const std::map<std::string, RequestOutput> results = run_cases(engine, cases);
    for (const Case& c : cases) {
      expect_same(results.at(c.id), expected.at(c.id), label + " " + c.id);
    }
    EXPECT_GT(total_cached_tokens(results), 0) << label;
    // Three full blocks, the first two cached by "first": the third is recomputed for its
    // last token's logits.
    EXPECT_EQ(results.at("boundary").num_cached_tokens, 2 * kBlockSize) << label;
    EXPECT_GT(engine.stats().prefix_cache_hits, 0) << label;
    if (chunk < 512) EXPECT_GE(engine.stats().num_multi_step_prefills, 1) << label;
  }

  // 6 usable blocks for six sequences of 3 to 5 blocks each; chunks of 16 tokens admit
  // prompts before their last blocks exist, so growing ones preempt others (2 preemptions
  // when this test was written).
  EngineArgs tight_args = base_args(model);
  tight_args.max_model_len = 96;
  tight_args.max_num_batched_tokens = 16;
  tight_args.kv_cache_memory_bytes = 7 * bytes_per_block(model);
  LLMEngine tight(tight_args);
  const std::map<std::string, RequestOutput> results = run_cases(tight, cases);
  EXPECT_GE(tight.stats().num_preemptions, 1);
  EXPECT_GT(total_cached_tokens(results), 0);
  for (const Case& c : cases) expect_same(results.at(c.id), expected.at(c.id), "tight " + c.id);
  EXPECT_EQ(tight.stats().num_free_blocks, tight.stats().num_total_blocks);
}

}  // namespace
}  // namespace vllm
