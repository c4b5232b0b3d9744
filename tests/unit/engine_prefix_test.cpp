// LLMEngine's prefix caching and scheduling-policy surface, with the fake model.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "core/errors.h"
#include "fake_model.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kVocabSize = 64;

EngineArgs small_args() {
  EngineArgs args;
  args.max_model_len = 128;
  args.block_size = 4;
  args.max_num_seqs = 8;
  args.max_num_batched_tokens = 64;
  args.kv_cache_memory_bytes = 128 * KVCache::bytes_per_block(1, 4, 1, 2);
  args.num_threads = 1;
  return args;
}

std::unique_ptr<LLMEngine> make_engine(const EngineArgs& args) {
  return std::make_unique<LLMEngine>(args, std::make_unique<testing::FakeModel>(kVocabSize, 128),
                                     std::make_unique<testing::FakeTokenizer>(kVocabSize));
}

PromptInput prompt_of(int length) {
  PromptInput prompt;
  for (int i = 0; i < length; ++i) prompt.token_ids.push_back(1 + (i * 5) % 63);
  return prompt;
}

SamplingParams greedy(int max_tokens) {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = max_tokens;
  params.ignore_eos = true;
  return params;
}

RequestOutput run_one(LLMEngine& engine, const std::string& id, const PromptInput& prompt) {
  engine.add_request(id, prompt, greedy(3));
  RequestOutput last;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (engine.has_unfinished_requests() && std::chrono::steady_clock::now() < deadline) {
    for (RequestOutput& output : engine.get_outputs(100ms)) last = std::move(output);
  }
  EXPECT_TRUE(last.finished) << id;
  return last;
}

TEST(EnginePrefixCache, SecondRequestHits) {
  auto engine = make_engine(small_args());
  const RequestOutput first = run_one(*engine, "a", prompt_of(10));
  const RequestOutput second = run_one(*engine, "b", prompt_of(10));
  EXPECT_EQ(first.num_cached_tokens, 0);
  EXPECT_EQ(second.num_cached_tokens, 8);
  EXPECT_EQ(second.outputs[0].token_ids, first.outputs[0].token_ids);
  const EngineStats stats = engine->stats();
  EXPECT_EQ(stats.prefix_cache_queries, 20);
  EXPECT_EQ(stats.prefix_cache_hits, 8);
}

TEST(EnginePrefixCache, SaltAndDisabledMiss) {
  auto engine = make_engine(small_args());
  run_one(*engine, "a", prompt_of(10));
  PromptInput salted = prompt_of(10);
  salted.cache_salt = "tenant";
  EXPECT_EQ(run_one(*engine, "b", salted).num_cached_tokens, 0);
  EXPECT_EQ(run_one(*engine, "c", salted).num_cached_tokens, 8);

  EngineArgs args = small_args();
  args.enable_prefix_caching = false;
  auto disabled = make_engine(args);
  run_one(*disabled, "a", prompt_of(10));
  EXPECT_EQ(run_one(*disabled, "b", prompt_of(10)).num_cached_tokens, 0);
}

TEST(EnginePrefixCache, ResetForgetsBlocks) {
  auto engine = make_engine(small_args());
  run_one(*engine, "a", prompt_of(10));
  EXPECT_TRUE(engine->reset_prefix_cache());
  EXPECT_EQ(run_one(*engine, "b", prompt_of(10)).num_cached_tokens, 0);
}

TEST(EnginePolicy, PriorityNeedsPriorityPolicy) {
  auto engine = make_engine(small_args());
  try {
    engine->add_request("a", prompt_of(4), greedy(2), /*priority=*/3);
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "Got priority 3 but Priority scheduling is not enabled.");
  }
  EXPECT_NO_THROW(engine->add_request("b", prompt_of(4), greedy(2), /*priority=*/0));
}

TEST(EnginePolicy, UnknownPolicyRejected) {
  EngineArgs args = small_args();
  args.scheduling_policy = "lifo";
  EXPECT_THROW(make_engine(args), InvalidArgument);
}

TEST(EnginePolicy, PriorityAccepted) {
  EngineArgs args = small_args();
  args.scheduling_policy = "priority";
  auto engine = make_engine(args);
  engine->add_request("a", prompt_of(4), greedy(2), /*priority=*/-1);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  bool finished = false;
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    for (const RequestOutput& output : engine->get_outputs(100ms)) finished = output.finished;
  }
  EXPECT_TRUE(finished);
}

}  // namespace
}  // namespace vllm
