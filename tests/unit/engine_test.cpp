// LLMEngine and its engine-core thread, with the fake model and tokenizer.
#include "vllm/engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/errors.h"
#include "fake_model.h"
#include "models/model.h"
#include "engine_test_util.h"
#include "scoped_env.h"

namespace vllm {
namespace {

using namespace std::chrono_literals;
using testing::FakeModel;
using testing::FakeTokenizer;

constexpr int64_t kVocabSize = 64;

EngineArgs small_args(int64_t max_num_batched_tokens = 64, int max_num_seqs = 16,
                      int64_t num_blocks = 256) {
  EngineArgs args;
  args.max_model_len = 128;
  args.block_size = 4;
  args.max_num_seqs = max_num_seqs;
  args.max_num_batched_tokens = max_num_batched_tokens;
  args.kv_cache_memory_bytes = num_blocks * KVCache::bytes_per_block(1, 4, 1, 2);
  args.num_threads = 1;
  return args;
}

std::unique_ptr<LLMEngine> make_engine(const EngineArgs& args, FakeModel** model_out = nullptr) {
  auto model = std::make_unique<FakeModel>(kVocabSize, 128);
  if (model_out != nullptr) *model_out = model.get();
  return std::make_unique<LLMEngine>(args, std::move(model),
                                     std::make_unique<FakeTokenizer>(kVocabSize));
}

PromptInput token_prompt(int length, int salt) {
  PromptInput prompt;
  for (int i = 0; i < length; ++i) prompt.token_ids.push_back(1 + (i * 5 + salt * 11) % 63);
  return prompt;
}

// Collects the last RequestOutput of every request until none is unfinished.
std::map<std::string, RequestOutput> run_to_completion(LLMEngine& engine) {
  return testing::run_to_completion(engine, 30s, 100ms);
}

struct Case {
  std::string id;
  PromptInput prompt;
  SamplingParams params;
};

std::vector<Case> mixed_cases() {
  std::vector<Case> cases;
  SamplingParams greedy;
  greedy.temperature = 0.0;
  greedy.max_tokens = 20;
  greedy.logprobs = 2;
  cases.push_back({"greedy", token_prompt(37, 1), greedy});

  SamplingParams seeded;
  seeded.temperature = 0.9;
  seeded.top_p = 0.9;
  seeded.seed = 1234;
  seeded.max_tokens = 25;
  seeded.logprobs = 3;
  seeded.ignore_eos = true;
  cases.push_back({"seeded", token_prompt(9, 2), seeded});

  SamplingParams top_k = seeded;
  top_k.top_p = 1.0;
  top_k.top_k = 8;
  top_k.seed = 99;
  cases.push_back({"top_k", token_prompt(21, 3), top_k});

  SamplingParams parallel = seeded;
  parallel.n = 2;
  parallel.seed = 7;
  parallel.max_tokens = 15;
  cases.push_back({"parallel", token_prompt(5, 4), parallel});
  return cases;
}

void expect_same_output(const RequestOutput& actual, const RequestOutput& expected) {
  ASSERT_EQ(actual.outputs.size(), expected.outputs.size()) << actual.request_id;
  for (size_t i = 0; i < actual.outputs.size(); ++i) {
    const CompletionOutput& a = actual.outputs[i];
    const CompletionOutput& e = expected.outputs[i];
    EXPECT_EQ(a.token_ids, e.token_ids) << actual.request_id << " sample " << i;
    EXPECT_EQ(a.text, e.text) << actual.request_id << " sample " << i;
    EXPECT_EQ(a.finish_reason, e.finish_reason) << actual.request_id << " sample " << i;
    ASSERT_EQ(a.logprobs.has_value(), e.logprobs.has_value());
    if (!a.logprobs.has_value()) continue;
    ASSERT_EQ(a.logprobs->size(), e.logprobs->size());
    for (size_t t = 0; t < a.logprobs->size(); ++t) {
      ASSERT_EQ((*a.logprobs)[t].size(), (*e.logprobs)[t].size());
      for (const auto& [token, logprob] : (*a.logprobs)[t]) {
        ASSERT_TRUE((*e.logprobs)[t].count(token)) << "token " << token;
        EXPECT_EQ(logprob.logprob, (*e.logprobs)[t].at(token).logprob);
        EXPECT_EQ(logprob.rank, (*e.logprobs)[t].at(token).rank);
      }
    }
    EXPECT_EQ(a.cumulative_logprob, e.cumulative_logprob);
  }
}

TEST(Engine, BatchedEqualsAlone) {
  std::map<std::string, RequestOutput> alone;
  for (const Case& c : mixed_cases()) {
    auto engine = make_engine(small_args(256));
    engine->add_request(c.id, c.prompt, c.params);
    alone[c.id] = run_to_completion(*engine).at(c.id);
  }

  // Together, with a small token budget so prompts are chunked, and staggered arrivals.
  auto engine = make_engine(small_args(/*max_num_batched_tokens=*/8));
  std::vector<Case> cases = mixed_cases();
  std::map<std::string, RequestOutput> together;
  engine->add_request(cases[0].id, cases[0].prompt, cases[0].params);
  engine->add_request(cases[1].id, cases[1].prompt, cases[1].params);
  for (int i = 0; i < 3; ++i) {
    for (RequestOutput& output : engine->get_outputs(200ms)) together[output.request_id] = output;
  }
  engine->add_request(cases[2].id, cases[2].prompt, cases[2].params);
  engine->add_request(cases[3].id, cases[3].prompt, cases[3].params);
  for (auto& [id, output] : run_to_completion(*engine)) together[id] = output;

  for (const Case& c : cases) {
    ASSERT_TRUE(together.count(c.id)) << c.id;
    expect_same_output(together.at(c.id), alone.at(c.id));
  }
  EXPECT_GT(engine->stats().max_running_in_step, 1);
  EXPECT_GE(engine->stats().num_multi_step_prefills, 1);
  EXPECT_EQ(engine->stats().num_free_blocks, engine->stats().num_total_blocks);
}

TEST(Engine, PreemptionKeepsOutputs) {
  std::vector<Case> cases = mixed_cases();
  auto roomy = make_engine(small_args(64));
  for (const Case& c : cases) roomy->add_request(c.id, c.prompt, c.params);
  std::map<std::string, RequestOutput> expected = run_to_completion(*roomy);

  // 29 usable blocks of 4 tokens: 116 token slots for up to 177 tokens of context.
  EngineArgs tight_args = small_args(64, 16, 30);
  tight_args.max_model_len = 64;
  FakeModel* tight_model = nullptr;
  auto tight = make_engine(tight_args, &tight_model);
  // The preemption needs the requests to run together. Slow steps let every request arrive
  // before the first ones finish, even when this thread is slow (sanitizers, a busy machine).
  tight_model->step_delay_ms = 20;
  for (const Case& c : cases) tight->add_request(c.id, c.prompt, c.params);
  std::map<std::string, RequestOutput> actual = run_to_completion(*tight);

  EXPECT_GE(tight->stats().num_preemptions, 1);
  for (const Case& c : cases) expect_same_output(actual.at(c.id), expected.at(c.id));
  EXPECT_EQ(tight->stats().num_free_blocks, tight->stats().num_total_blocks);
}

TEST(Engine, ParallelSamplesDiffer) {
  auto engine = make_engine(small_args());
  SamplingParams params;
  params.n = 3;
  params.seed = 5;
  params.max_tokens = 30;
  params.ignore_eos = true;
  engine->add_request("p", token_prompt(6, 1), params);
  const RequestOutput output = run_to_completion(*engine).at("p");
  ASSERT_EQ(output.outputs.size(), 3u);
  EXPECT_TRUE(output.finished);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(output.outputs[i].index, i);
    EXPECT_EQ(output.outputs[i].token_ids.size(), 30u);
  }
  EXPECT_NE(output.outputs[0].token_ids, output.outputs[1].token_ids);
  EXPECT_NE(output.outputs[1].token_ids, output.outputs[2].token_ids);
}

TEST(Engine, UnseededRunsDiffer) {
  SamplingParams params;
  params.temperature = 1.0;
  params.max_tokens = 40;
  params.ignore_eos = true;
  std::vector<std::vector<int32_t>> runs;
  for (int run = 0; run < 2; ++run) {
    auto engine = make_engine(small_args());
    engine->add_request("u", token_prompt(6, 3), params);
    runs.push_back(run_to_completion(*engine).at("u").outputs[0].token_ids);
  }
  EXPECT_EQ(runs[0].size(), 40u);
  EXPECT_NE(runs[0], runs[1]);
}

TEST(Engine, TextAndFinishReason) {
  auto engine = make_engine(small_args());
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 6;
  params.ignore_eos = true;
  PromptInput prompt;
  prompt.text = "hello";
  engine->add_request("t", prompt, params);
  const RequestOutput output = run_to_completion(*engine).at("t");
  EXPECT_EQ(output.prompt, std::optional<std::string>("hello"));
  EXPECT_EQ(output.prompt_token_ids.size(), 5u);
  const CompletionOutput& completion = output.outputs[0];
  EXPECT_EQ(completion.finish_reason, std::optional<std::string>("length"));
  // The fake tokenizer maps token i to one character (EOS to nothing when skipped).
  FakeTokenizer tokenizer(kVocabSize);
  EXPECT_EQ(completion.text, tokenizer.decode(completion.token_ids, true));
}

template <typename Fn>
std::string invalid_message(Fn&& fn) {
  try {
    fn();
  } catch (const InvalidArgument& error) {
    return error.what();
  }
  return "<no InvalidArgument>";
}

TEST(Engine, ValidationErrors) {
  auto engine = make_engine(small_args());
  SamplingParams long_params;
  long_params.temperature = 0.0;
  long_params.max_tokens = 60;
  long_params.ignore_eos = true;
  engine->add_request("inflight", token_prompt(10, 1), long_params);

  const PromptInput prompt = token_prompt(4, 2);
  auto add = [&](const std::string& id, const PromptInput& p, SamplingParams params) {
    return invalid_message([&] { engine->add_request(id, p, params); });
  };
  SamplingParams params;
  params.temperature = -1.0;
  EXPECT_EQ(add("a", prompt, params), "temperature must be non-negative, got -1.0.");
  params = SamplingParams{};
  params.top_p = 1.5;
  EXPECT_EQ(add("a", prompt, params), "top_p must be in (0, 1], got 1.5.");
  params = SamplingParams{};
  params.max_tokens = 0;
  EXPECT_EQ(add("a", prompt, params), "max_tokens must be at least 1, got 0.");
  params = SamplingParams{};
  params.n = 0;
  EXPECT_EQ(add("a", prompt, params), "n must be at least 1, got 0.");
  params = SamplingParams{};
  params.n = 2;
  params.temperature = 0.0;
  EXPECT_EQ(add("a", prompt, params), "n must be 1 when using greedy sampling, got 2.");
  params = SamplingParams{};
  params.min_p = 2.0;
  EXPECT_EQ(add("a", prompt, params), "min_p must be in [0, 1], got 2.0.");
  params = SamplingParams{};
  params.top_k = -2;
  EXPECT_EQ(add("a", prompt, params), "top_k must be 0 (disable), or at least 1, got -2.");

  params = SamplingParams{};
  params.logprobs = 21;
  EXPECT_EQ(add("a", prompt, params),
            "Requested sample logprobs of 21, which is greater than max allowed: 20");
  params.logprobs = -1;
  EXPECT_EQ(add("a", prompt, params),
            "Requested sample logprobs of 64, which is greater than max allowed: 20");

  EXPECT_EQ(add("a", PromptInput{}, SamplingParams{}), "The decoder prompt cannot be empty");
  EXPECT_EQ(add("a", token_prompt(200, 1), SamplingParams{}),
            "The decoder prompt (length 200) is longer than the maximum model length of 128. "
            "Make sure that `max_model_len` is no smaller than the number of text tokens.");
  PromptInput out_of_vocab;
  out_of_vocab.token_ids = {1, 2, 64};
  EXPECT_NE(add("a", out_of_vocab, SamplingParams{}).find("Token id 64 is out of vocabulary"),
            std::string::npos);
  EXPECT_EQ(add("inflight", prompt, SamplingParams{}), "Request id inflight already running.");

  const RequestOutput output = run_to_completion(*engine).at("inflight");
  EXPECT_EQ(output.outputs[0].token_ids.size(), 60u);
  EXPECT_EQ(output.outputs[0].finish_reason, std::optional<std::string>("length"));
}

TEST(Engine, AbortFreesBlocks) {
  FakeModel* model = nullptr;
  auto engine = make_engine(small_args(64, /*max_num_seqs=*/1), &model);
  model->step_delay_ms = 2;  // so the abort arrives while the first request runs
  SamplingParams params;
  params.max_tokens = 100;
  params.ignore_eos = true;
  engine->add_request("running", token_prompt(20, 1), params);
  engine->add_request("waiting", token_prompt(20, 2), params);

  // Wait until the first request has generated tokens.
  std::map<std::string, RequestOutput> seen;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!seen.count("running") && std::chrono::steady_clock::now() < deadline) {
    for (RequestOutput& output : engine->get_outputs(50ms)) seen[output.request_id] = output;
  }
  ASSERT_TRUE(seen.count("running"));
  EXPECT_FALSE(seen.count("waiting"));

  engine->abort_request({"waiting", "running"});
  std::map<std::string, RequestOutput> results = run_to_completion(*engine);
  ASSERT_TRUE(results.count("running"));
  ASSERT_TRUE(results.count("waiting"));
  EXPECT_EQ(results.at("running").outputs[0].finish_reason, std::optional<std::string>("abort"));
  EXPECT_EQ(results.at("waiting").outputs[0].finish_reason, std::optional<std::string>("abort"));
  EXPECT_LT(results.at("running").outputs[0].token_ids.size(), 100u);
  EXPECT_TRUE(results.at("waiting").outputs[0].token_ids.empty());

  EXPECT_EQ(engine->stats().num_free_blocks, engine->stats().num_total_blocks);
  EXPECT_EQ(engine->stats().num_running, 0);
  EXPECT_EQ(engine->stats().num_waiting, 0);
}

TEST(Engine, StepFailureEndsOnlyItsRequests) {
  FakeModel* model = nullptr;
  auto engine = make_engine(small_args(), &model);
  model->poison_token = 63;
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 5;
  params.ignore_eos = true;
  PromptInput poisoned;
  poisoned.token_ids = {1, 2, 63};
  engine->add_request("poisoned", poisoned, params);
  std::map<std::string, RequestOutput> first = run_to_completion(*engine);
  EXPECT_EQ(first.at("poisoned").outputs[0].finish_reason, std::optional<std::string>("abort"));
  ASSERT_TRUE(first.at("poisoned").error.has_value());
  EXPECT_NE(first.at("poisoned").error->find("poison token"), std::string::npos);

  engine->add_request("healthy", token_prompt(4, 9), params);
  std::map<std::string, RequestOutput> second = run_to_completion(*engine);
  EXPECT_EQ(second.at("healthy").outputs[0].finish_reason, std::optional<std::string>("length"));
  EXPECT_EQ(second.at("healthy").outputs[0].token_ids.size(), 5u);
  EXPECT_FALSE(second.at("healthy").error.has_value());
  EXPECT_EQ(engine->stats().num_free_blocks, engine->stats().num_total_blocks);
}

TEST(Engine, KVCacheTooSmall) {
  EngineArgs args = small_args(64, 16, /*num_blocks=*/10);  // 9 usable blocks: 36 tokens
  const std::string message = invalid_message([&] { make_engine(args); });
  EXPECT_NE(message.find("To serve at least one request with the models's max seq len (128)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("estimated maximum model length is 36"), std::string::npos) << message;
}

TEST(Engine, LongMaxModelLenNeedsOptIn) {
  testing::ScopedEnv allow("VLLM_ALLOW_LONG_MAX_MODEL_LEN");
  allow.unset();
  EngineArgs args = small_args();
  args.max_model_len = 129;  // the fake model's max_position_embeddings is 128
  try {
    make_engine(args);
    FAIL() << "max_model_len above max_position_embeddings was accepted";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("VLLM_ALLOW_LONG_MAX_MODEL_LEN=1"),
              std::string::npos)
        << error.what();
  }
  allow.set("1");
  EXPECT_EQ(make_engine(args)->args().max_model_len, 129);
}

TEST(Engine, DefaultsResolved) {
  EngineArgs args = small_args();
  args.max_model_len = 0;
  args.max_num_batched_tokens = 0;
  args.kv_cache_memory_bytes = 200 * KVCache::bytes_per_block(1, 4, 1, 2);
  auto engine = make_engine(args);
  EXPECT_EQ(engine->args().max_model_len, 128);
  EXPECT_EQ(engine->args().max_num_batched_tokens, 2048);
  EXPECT_EQ(engine->stats().num_total_blocks, 199);
}

}  // namespace
}  // namespace vllm
