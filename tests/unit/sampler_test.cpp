#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <limits>
#include <map>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "core/errors.h"
#include "fake_model.h"
#include "vllm/engine.h"
#include "test_model.h"
#include "engine_test_util.h"

namespace vllm {
namespace {

std::vector<float> random_logits(size_t vocab_size, uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> logits(vocab_size);
  for (float& value : logits) value = normal(generator);
  return logits;
}

// Reference softmax of logits / temperature in long double.
std::vector<double> reference_softmax(const std::vector<float>& logits, double temperature) {
  long double max_value = *std::max_element(logits.begin(), logits.end()) / temperature;
  long double sum = 0;
  std::vector<long double> exps;
  for (float value : logits) {
    exps.push_back(std::exp(static_cast<long double>(value) / temperature - max_value));
    sum += exps.back();
  }
  std::vector<double> probs;
  for (long double value : exps) probs.push_back(static_cast<double>(value / sum));
  return probs;
}

TEST(Sampler, GreedyArgmax) {
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.5f};
  SamplingRow row;
  row.temperature = 0.0;
  EXPECT_EQ(Sampler::sample_row(logits, row).token_id, 1);
}

TEST(Sampler, GreedyTieTakesLowestId) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f};
  SamplingRow row;
  row.temperature = 0.0;
  EXPECT_EQ(Sampler::sample_row(logits, row).token_id, 1);
}

// Rows longer than the 16 lanes of the vectorized scan, against a plain first-max scan,
// with the maximum in the lanes, in the tail, tied, and behind -inf values.
TEST(Sampler, GreedyLongRowsMatchFirstMaxScan) {
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  SamplingRow row;
  row.temperature = 0.0;
  for (size_t vocab_size : {1u, 15u, 16u, 17u, 1000u, 262147u}) {
    std::vector<float> logits = random_logits(vocab_size, vocab_size);
    const auto first_max = [&] {
      return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
    };
    EXPECT_EQ(Sampler::sample_row(logits, row).token_id, first_max()) << vocab_size;
    logits.back() = 100.0f;  // the tail
    EXPECT_EQ(Sampler::sample_row(logits, row).token_id, first_max()) << vocab_size;
    logits[vocab_size / 2] = 100.0f;  // a tie with an earlier id
    EXPECT_EQ(Sampler::sample_row(logits, row).token_id, first_max()) << vocab_size;
  }
  std::vector<float> masked(40, kNegInf);
  masked[33] = -1e30f;
  EXPECT_EQ(Sampler::sample_row(masked, row).token_id, 33);
  // A NaN wins at its first index, as torch.argmax returns it.
  std::vector<float> with_nan = random_logits(100, 7);
  with_nan[70] = std::numeric_limits<float>::quiet_NaN();
  with_nan[90] = std::numeric_limits<float>::quiet_NaN();
  with_nan[10] = 1000.0f;
  EXPECT_EQ(Sampler::sample_row(with_nan, row).token_id, 70);
}

TEST(Sampler, GreedySkipsBanned) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 3.0f};
  SamplingRow row;
  row.temperature = 0.0;
  row.banned_token_ids = {1, 3};
  EXPECT_EQ(Sampler::sample_row(logits, row).token_id, 2);
}

TEST(Sampler, TopKOneEqualsGreedy) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const std::vector<float> logits = random_logits(100, seed);
    std::mt19937_64 generator(seed);
    SamplingRow row;
    row.temperature = 1.0;
    row.top_k = 1;
    row.generator = &generator;
    SamplingRow greedy;
    greedy.temperature = 0.0;
    EXPECT_EQ(Sampler::sample_row(logits, row).token_id,
              Sampler::sample_row(logits, greedy).token_id)
        << "seed " << seed;
  }
}

TEST(Sampler, TopKMask) {
  const std::vector<float> logits = random_logits(50, 3);
  SamplingRow row;
  row.top_k = 5;
  const std::vector<double> probs = sampling_probs(logits, row);
  std::vector<float> sorted = logits;
  std::sort(sorted.begin(), sorted.end(), std::greater<float>());
  const float fifth = sorted[4];
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_EQ(probs[i] > 0.0, logits[i] >= fifth) << "token " << i;
  }
  EXPECT_NEAR(std::accumulate(probs.begin(), probs.end(), 0.0), 1.0, 1e-12);
}

// top_k sorts only its k first tokens, and top_p then walks those: the kept set must
// still be the top_p prefix of the k most probable tokens.
TEST(Sampler, TopKThenTopPMask) {
  const std::vector<float> logits = random_logits(5000, 11);
  for (int top_k : {1, 7, 100, 4999, 5000, 6000}) {
    SamplingRow row;
    row.temperature = 0.9;
    row.top_k = top_k;
    row.top_p = 0.8;
    const std::vector<double> probs = sampling_probs(logits, row);

    const std::vector<double> full = reference_softmax(logits, 0.9);
    std::vector<int> order(full.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return full[a] > full[b]; });
    order.resize(std::min<size_t>(order.size(), static_cast<size_t>(top_k)));
    double top_k_mass = 0.0;
    for (int token : order) top_k_mass += full[token];
    std::vector<bool> kept(full.size(), false);
    double mass = 0.0;
    for (int token : order) {
      kept[token] = true;
      mass += full[token] / top_k_mass;
      if (mass >= 0.8) break;
    }
    for (size_t i = 0; i < full.size(); ++i) {
      ASSERT_EQ(probs[i] > 0.0, kept[i]) << "top_k " << top_k << " token " << i;
    }
  }
}

TEST(Sampler, TopPMask) {
  for (double top_p : {0.1, 0.5, 0.9, 0.99}) {
    const std::vector<float> logits = random_logits(200, 7);
    SamplingRow row;
    row.temperature = 0.7;
    row.top_p = top_p;
    const std::vector<double> probs = sampling_probs(logits, row);

    // Reference: the smallest set of most probable tokens whose mass reaches top_p.
    const std::vector<double> full = reference_softmax(logits, 0.7);
    std::vector<int> order(full.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return full[a] > full[b]; });
    std::vector<bool> kept(full.size(), false);
    double mass = 0.0;
    for (int token : order) {
      kept[token] = true;
      mass += full[token];
      if (mass >= top_p) break;
    }
    for (size_t i = 0; i < full.size(); ++i) {
      EXPECT_EQ(probs[i] > 0.0, kept[i]) << "top_p " << top_p << " token " << i;
      if (kept[i]) EXPECT_NEAR(probs[i], full[i] / mass, 1e-12) << "token " << i;
    }
  }
}

TEST(Sampler, MinPMask) {
  const std::vector<float> logits = random_logits(100, 11);
  SamplingRow row;
  row.min_p = 0.05;
  const std::vector<double> probs = sampling_probs(logits, row);
  const std::vector<double> full = reference_softmax(logits, 1.0);
  const double threshold = 0.05 * *std::max_element(full.begin(), full.end());
  double kept_mass = 0.0;
  for (size_t i = 0; i < full.size(); ++i) kept_mass += full[i] >= threshold ? full[i] : 0.0;
  for (size_t i = 0; i < full.size(); ++i) {
    EXPECT_EQ(probs[i] > 0.0, full[i] >= threshold) << "token " << i;
    if (full[i] >= threshold) EXPECT_NEAR(probs[i], full[i] / kept_mass, 1e-12);
  }
}

TEST(Sampler, SeededReproducible) {
  const std::vector<float> logits = random_logits(64, 5);
  auto draw = [&](uint64_t seed) {
    std::mt19937_64 generator(seed);
    SamplingRow row;
    row.generator = &generator;
    std::vector<int32_t> tokens;
    for (int i = 0; i < 50; ++i) tokens.push_back(Sampler::sample_row(logits, row).token_id);
    return tokens;
  };
  EXPECT_EQ(draw(42), draw(42));
  EXPECT_NE(draw(42), draw(43));
}

TEST(Sampler, FrequenciesMatchProbs) {
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, 0.5f};
  const std::vector<double> probs = reference_softmax(logits, 1.0);
  std::mt19937_64 generator(1);
  SamplingRow row;
  row.generator = &generator;
  std::vector<int> counts(logits.size(), 0);
  constexpr int kDraws = 40000;
  for (int i = 0; i < kDraws; ++i) ++counts[Sampler::sample_row(logits, row).token_id];
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_NEAR(static_cast<double>(counts[i]) / kDraws, probs[i], 0.01) << "token " << i;
  }
}

TEST(Sampler, RowsIndependent) {
  const size_t vocab_size = 32;
  std::vector<float> batch_logits;
  for (uint64_t r = 0; r < 4; ++r) {
    const std::vector<float> logits = random_logits(vocab_size, 100 + r);
    batch_logits.insert(batch_logits.end(), logits.begin(), logits.end());
  }
  std::vector<std::mt19937_64> generators;
  std::vector<SamplingRow> rows(4);
  for (uint64_t r = 0; r < 4; ++r) generators.emplace_back(r);
  for (size_t r = 0; r < 4; ++r) {
    rows[r].temperature = 0.5 + 0.3 * r;
    rows[r].generator = &generators[r];
  }
  rows[2].temperature = 0.0;
  const std::vector<SampledToken> batched = Sampler().sample(batch_logits, vocab_size, rows);

  for (size_t r = 0; r < 4; ++r) {
    std::mt19937_64 generator(r);
    SamplingRow alone = rows[r];
    alone.generator = &generator;
    const std::span<const float> logits(batch_logits.data() + r * vocab_size, vocab_size);
    EXPECT_EQ(Sampler::sample_row(logits, alone).token_id, batched[r].token_id) << "row " << r;
  }
}

TEST(Sampler, LogprobsMatchLogSoftmax) {
  const std::vector<float> logits = random_logits(80, 9);
  std::mt19937_64 generator(3);
  SamplingRow row;
  row.temperature = 0.5;  // logprobs are of the raw logits, not the tempered ones
  row.num_logprobs = 5;
  row.generator = &generator;
  const SampledToken sampled = Sampler::sample_row(logits, row);
  ASSERT_TRUE(sampled.logprobs.has_value());
  const TokenLogprobs& logprobs = *sampled.logprobs;
  ASSERT_EQ(logprobs.token_ids.size(), 6u);
  EXPECT_EQ(logprobs.token_ids[0], sampled.token_id);

  long double max_value = *std::max_element(logits.begin(), logits.end());
  long double sum = 0;
  for (float value : logits) sum += std::exp(static_cast<long double>(value) - max_value);
  for (size_t i = 0; i < logprobs.token_ids.size(); ++i) {
    const long double expected = logits[logprobs.token_ids[i]] - max_value - std::log(sum);
    EXPECT_NEAR(logprobs.logprobs[i], static_cast<double>(expected), 1e-9) << "entry " << i;
  }
}

TEST(Sampler, LogprobRanks) {
  const std::vector<float> logits = {0.1f, 0.4f, 0.3f, 0.9f, 0.2f};
  SamplingRow row;
  row.temperature = 0.0;
  row.num_logprobs = 3;
  row.banned_token_ids = {3};  // forces the sampled token to be 1, rank 2
  const SampledToken sampled = Sampler::sample_row(logits, row);
  ASSERT_TRUE(sampled.logprobs.has_value());
  EXPECT_EQ(sampled.token_id, 1);
  EXPECT_EQ(sampled.logprobs->token_ids, (std::vector<int32_t>{1, 3, 1, 2}));
  EXPECT_EQ(sampled.logprobs->ranks, (std::vector<int32_t>{2, 1, 2, 3}));
}

TEST(Sampler, ZeroLogprobsOnlySampled) {
  const std::vector<float> logits = {0.1f, 0.4f, 0.3f};
  SamplingRow row;
  row.temperature = 0.0;
  row.num_logprobs = 0;
  const SampledToken sampled = Sampler::sample_row(logits, row);
  ASSERT_TRUE(sampled.logprobs.has_value());
  EXPECT_EQ(sampled.logprobs->token_ids, (std::vector<int32_t>{1}));
  EXPECT_EQ(sampled.logprobs->ranks, (std::vector<int32_t>{1}));
}

TEST(Sampler, NoLogprobsByDefault) {
  const std::vector<float> logits = {0.1f, 0.4f, 0.3f};
  SamplingRow row;
  row.temperature = 0.0;
  EXPECT_FALSE(Sampler::sample_row(logits, row).logprobs.has_value());
}

// Logits processors against a scalar reference of vLLM's documented formulas.

constexpr float kInf = std::numeric_limits<float>::infinity();

// Reference penalties: repetition over prompt and output tokens (divide positive logits,
// multiply the others), then frequency * count and presence once, over output tokens.
std::vector<float> reference_penalties(std::vector<float> logits, const std::vector<int32_t>& prompt,
                                       const std::vector<int32_t>& output, double repetition,
                                       double frequency, double presence) {
  for (size_t v = 0; v < logits.size(); ++v) {
    const auto token = static_cast<int32_t>(v);
    const long count = std::count(output.begin(), output.end(), token);
    const bool in_prompt = std::find(prompt.begin(), prompt.end(), token) != prompt.end();
    if (in_prompt || count > 0) {
      logits[v] = logits[v] > 0 ? logits[v] / static_cast<float>(repetition)
                                : logits[v] * static_cast<float>(repetition);
    }
    logits[v] -= static_cast<float>(frequency) * static_cast<float>(count);
    if (count > 0) logits[v] -= static_cast<float>(presence);
  }
  return logits;
}

TEST(LogitsProcessors, Penalties) {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, -3.0f, 1.5f, 0.0f, 4.0f, -0.5f};
  const std::vector<int32_t> prompt = {0, 1, 1};
  const std::vector<int32_t> output = {1, 2, 2, 2, 6};
  SamplingParams params;
  params.repetition_penalty = 1.3;
  params.frequency_penalty = 0.4;
  params.presence_penalty = -0.7;
  SamplingRow row;
  row.params = &params;
  row.prompt_token_ids = prompt;
  row.output_token_ids = output;
  const std::vector<float> actual = process_logits(logits, row);
  const std::vector<float> expected = reference_penalties(logits, prompt, output, 1.3, 0.4, -0.7);
  for (size_t v = 0; v < logits.size(); ++v) EXPECT_FLOAT_EQ(actual[v], expected[v]) << v;
}

TEST(LogitsProcessors, PenaltiesHandValues) {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f};
  const std::vector<int32_t> prompt = {0};
  const std::vector<int32_t> output = {1, 1};
  SamplingParams params;
  params.repetition_penalty = 2.0;
  params.frequency_penalty = 0.5;
  params.presence_penalty = 0.25;
  SamplingRow row;
  row.params = &params;
  row.prompt_token_ids = prompt;
  row.output_token_ids = output;
  const std::vector<float> actual = process_logits(logits, row);
  EXPECT_FLOAT_EQ(actual[0], 1.0f);                     // prompt only: 2 / 2
  EXPECT_FLOAT_EQ(actual[1], -1.0f * 2 - 0.5f * 2 - 0.25f);  // output twice
  EXPECT_FLOAT_EQ(actual[2], 0.5f);                     // never seen
}

TEST(LogitsProcessors, LogitBias) {
  const std::vector<float> logits = random_logits(16, 5);
  SamplingParams params;
  params.logit_bias = {{3, 100.0}, {7, -2.5}};
  SamplingRow row;
  row.params = &params;
  const std::vector<float> actual = process_logits(logits, row);
  for (size_t v = 0; v < logits.size(); ++v) {
    const float bias = v == 3 ? 100.0f : v == 7 ? -2.5f : 0.0f;
    EXPECT_FLOAT_EQ(actual[v], logits[v] + bias) << v;
  }
  row.temperature = 0.0;
  EXPECT_EQ(Sampler::sample_row(logits, row).token_id, 3);
}

TEST(LogitsProcessors, AllowedTokenIds) {
  const std::vector<float> logits = random_logits(32, 6);
  SamplingParams params;
  params.allowed_token_ids = std::vector<int32_t>{4, 9, 20};
  SamplingRow row;
  row.params = &params;
  const std::vector<float> actual = process_logits(logits, row);
  for (size_t v = 0; v < logits.size(); ++v) {
    if (v == 4 || v == 9 || v == 20) {
      EXPECT_EQ(actual[v], logits[v]) << v;
    } else {
      EXPECT_EQ(actual[v], -kInf) << v;
    }
  }
  std::mt19937_64 generator(1);
  row.generator = &generator;
  for (int i = 0; i < 50; ++i) {
    const int32_t token = Sampler::sample_row(logits, row).token_id;
    EXPECT_TRUE(token == 4 || token == 9 || token == 20) << token;
  }
}

TEST(LogitsProcessors, SingleTokenBadWord) {
  const std::vector<float> logits = random_logits(16, 7);
  SamplingParams params;
  params.bad_words_token_ids = {{5}};
  SamplingRow row;
  row.params = &params;
  const std::vector<float> actual = process_logits(logits, row);
  EXPECT_EQ(actual[5], -kInf);
  EXPECT_EQ(actual[4], logits[4]);
}

TEST(LogitsProcessors, MultiTokenBadWord) {
  const std::vector<float> logits = random_logits(16, 8);
  SamplingParams params;
  params.bad_words_token_ids = {{2, 3, 9}};
  SamplingRow row;
  row.params = &params;

  const std::vector<int32_t> matching = {7, 2, 3};
  row.output_token_ids = matching;
  EXPECT_EQ(process_logits(logits, row)[9], -kInf);

  const std::vector<int32_t> partial = {7, 1, 3};
  row.output_token_ids = partial;
  EXPECT_EQ(process_logits(logits, row)[9], logits[9]);

  const std::vector<int32_t> too_short = {3};
  row.output_token_ids = too_short;
  EXPECT_EQ(process_logits(logits, row)[9], logits[9]);
}

TEST(LogitsProcessors, MinTokensMaskBeatsBias) {
  // A banned token stays banned even with the largest bias, as vLLM masks to -inf.
  const std::vector<float> logits = random_logits(16, 9);
  SamplingParams params;
  params.logit_bias = {{0, 100.0}};
  SamplingRow row;
  row.params = &params;
  row.banned_token_ids = {0};
  row.temperature = 0.0;
  EXPECT_EQ(process_logits(logits, row)[0], -kInf);
  EXPECT_NE(Sampler::sample_row(logits, row).token_id, 0);
}

TEST(LogitsProcessors, LogprobsFromRawLogits) {
  // vLLM's default logprobs_mode (raw_logprobs) reports the model's distribution, before
  // bias and penalties.
  const std::vector<float> logits = random_logits(16, 10);
  SamplingParams params;
  params.logit_bias = {{2, 50.0}};
  SamplingRow row;
  row.params = &params;
  row.temperature = 0.0;
  row.num_logprobs = 0;
  const SampledToken sampled = Sampler::sample_row(logits, row);
  EXPECT_EQ(sampled.token_id, 2);
  const std::vector<double> reference = reference_softmax(logits, 1.0);
  EXPECT_NEAR(sampled.logprobs->logprobs[0], std::log(reference[2]), 1e-9);
}

// Sampling parameters through the whole engine, with the fake model.

using namespace std::chrono_literals;
using testing::FakeModel;
using testing::FakeTokenizer;

constexpr int64_t kFakeVocab = 64;

EngineArgs fake_args(int64_t max_num_batched_tokens = 64) {
  EngineArgs args;
  args.max_model_len = 128;
  args.block_size = 4;
  args.max_num_batched_tokens = max_num_batched_tokens;
  args.kv_cache_memory_bytes = 256 * KVCache::bytes_per_block(1, 4, 1, 2);
  args.num_threads = 1;
  return args;
}

std::unique_ptr<LLMEngine> fake_engine(int64_t max_num_batched_tokens = 64) {
  return std::make_unique<LLMEngine>(fake_args(max_num_batched_tokens),
                                     std::make_unique<FakeModel>(kFakeVocab, 128),
                                     std::make_unique<FakeTokenizer>(kFakeVocab));
}

std::map<std::string, RequestOutput> run_all(LLMEngine& engine) {
  return testing::run_to_completion(engine, 30s, 100ms);
}

PromptInput ids_prompt(int length, int salt) {
  PromptInput prompt;
  for (int i = 0; i < length; ++i) prompt.token_ids.push_back(1 + (i * 7 + salt * 13) % 63);
  return prompt;
}

SamplingParams penalized_params() {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 16;
  params.ignore_eos = true;
  params.repetition_penalty = 1.8;
  params.frequency_penalty = 0.6;
  params.presence_penalty = 0.4;
  return params;
}

TEST(SamplerEngine, GreedyPenaltiesMatchReference) {
  const PromptInput prompt = ids_prompt(10, 1);
  const SamplingParams params = penalized_params();
  auto engine = fake_engine();
  engine->add_request("p", prompt, params);
  const RequestOutput output = run_all(*engine).at("p");

  // Scalar reference: greedy decoding of the fake model's logits after the penalties.
  std::vector<int32_t> tokens = prompt.token_ids;
  std::vector<int32_t> generated;
  for (int step = 0; step < 16; ++step) {
    std::vector<float> row(kFakeVocab);
    testing::fake_logits(testing::fake_context_hash(tokens), row);
    row = reference_penalties(row, prompt.token_ids, generated, 1.8, 0.6, 0.4);
    const int32_t next =
        static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    tokens.push_back(next);
    generated.push_back(next);
  }
  EXPECT_EQ(output.outputs[0].token_ids, generated);

  // The penalties matter here: plain greedy decoding differs.
  std::vector<int32_t> plain_tokens = prompt.token_ids;
  for (int step = 0; step < 16; ++step) {
    plain_tokens.push_back(testing::fake_greedy_next(plain_tokens, kFakeVocab));
  }
  EXPECT_NE(std::vector<int32_t>(plain_tokens.begin() + 10, plain_tokens.end()), generated);
}

// As in vLLM, sample i of a request with seed s and n > 1 is the single sample of seed
// s + i.
TEST(SamplerEngine, ChildSeedIsSeedPlusIndex) {
  SamplingParams parent;
  parent.temperature = 1.0;
  parent.seed = 40;
  parent.n = 3;
  parent.max_tokens = 12;
  auto engine = fake_engine();
  engine->add_request("parent", ids_prompt(9, 1), parent);
  const RequestOutput together = run_all(*engine).at("parent");
  ASSERT_EQ(together.outputs.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    SamplingParams single = parent;
    single.n = 1;
    single.seed = 40 + i;
    auto alone_engine = fake_engine();
    alone_engine->add_request("single", ids_prompt(9, 1), single);
    const RequestOutput alone = run_all(*alone_engine).at("single");
    EXPECT_EQ(together.outputs[i].token_ids, alone.outputs[0].token_ids) << "sample " << i;
  }
  EXPECT_NE(together.outputs[0].token_ids, together.outputs[1].token_ids);
}

TEST(SamplerEngine, PenaltiesSameAloneAndBatched) {
  SamplingParams seeded = penalized_params();
  seeded.temperature = 0.9;
  seeded.seed = 77;
  seeded.logit_bias = {{5, 1.5}};

  auto alone_engine = fake_engine();
  alone_engine->add_request("target", ids_prompt(23, 2), seeded);
  const RequestOutput alone = run_all(*alone_engine).at("target");

  // Batched with other requests and with prefill chunked into 8-token steps.
  auto batched_engine = fake_engine(/*max_num_batched_tokens=*/8);
  SamplingParams other = penalized_params();
  other.frequency_penalty = -1.0;
  batched_engine->add_request("other1", ids_prompt(17, 3), other);
  batched_engine->add_request("target", ids_prompt(23, 2), seeded);
  batched_engine->add_request("other2", ids_prompt(5, 4), other);
  const RequestOutput batched = run_all(*batched_engine).at("target");

  EXPECT_EQ(batched.outputs[0].token_ids, alone.outputs[0].token_ids);
  EXPECT_EQ(batched.outputs[0].text, alone.outputs[0].text);
}

TEST(SamplerEngine, BadWordsNeverGenerated) {
  // Ban the first two tokens of the free greedy output as a two-token word.
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 12;
  params.ignore_eos = true;
  auto engine = fake_engine();
  engine->add_request("free", ids_prompt(6, 5), params);
  const std::string text = run_all(*engine).at("free").outputs[0].text;
  ASSERT_GE(text.size(), 2u);

  params.bad_words = {text.substr(0, 2)};
  engine->add_request("banned", ids_prompt(6, 5), params);
  const std::string banned = run_all(*engine).at("banned").outputs[0].text;
  EXPECT_EQ(banned.substr(0, 1), text.substr(0, 1));  // the first token is still allowed
  EXPECT_EQ(banned.find(text.substr(0, 2)), std::string::npos) << banned;
}

TEST(SamplerEngine, MinTokensMasksEos) {
  // With logit_bias pushing EOS (id 0) to the top, only min_tokens keeps it from ending.
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 10;
  params.min_tokens = 4;
  params.logit_bias = {{0, 100.0}};
  auto engine = fake_engine();
  engine->add_request("r", ids_prompt(6, 6), params);
  const CompletionOutput output = run_all(*engine).at("r").outputs[0];
  ASSERT_EQ(output.token_ids.size(), 5u);
  for (size_t i = 0; i < 4; ++i) EXPECT_NE(output.token_ids[i], 0) << i;
  EXPECT_EQ(output.token_ids[4], 0);
  EXPECT_EQ(output.finish_reason, "stop");
}

TEST(SamplerEngine, AllowedTokenIds) {
  SamplingParams params;
  params.temperature = 1.0;
  params.seed = 3;
  params.max_tokens = 20;
  params.allowed_token_ids = std::vector<int32_t>{7, 8, 9};
  auto engine = fake_engine();
  engine->add_request("r", ids_prompt(6, 7), params);
  const std::vector<int32_t> token_ids = run_all(*engine).at("r").outputs[0].token_ids;
  ASSERT_EQ(token_ids.size(), 20u);
  for (int32_t token : token_ids) {
    EXPECT_GE(token, 7);
    EXPECT_LE(token, 9);
  }
}

TEST(SamplerEngine, PromptLogprobsMatchReference) {
  // Chunked prefill (8 tokens a step) over a 21-token prompt.
  const PromptInput prompt = ids_prompt(21, 8);
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 2;
  params.prompt_logprobs = 2;
  auto engine = fake_engine(/*max_num_batched_tokens=*/8);
  engine->add_request("r", prompt, params);
  const RequestOutput output = run_all(*engine).at("r");
  ASSERT_TRUE(output.prompt_logprobs.has_value());
  const PromptLogprobs& logprobs = *output.prompt_logprobs;
  ASSERT_EQ(logprobs.size(), prompt.token_ids.size());
  EXPECT_FALSE(logprobs[0].has_value());
  for (size_t i = 1; i < logprobs.size(); ++i) {
    ASSERT_TRUE(logprobs[i].has_value()) << i;
    std::vector<float> row(kFakeVocab);
    testing::fake_logits(
        testing::fake_context_hash(std::span<const int32_t>(prompt.token_ids).first(i)), row);
    const std::vector<double> reference = reference_softmax(row, 1.0);
    const int32_t token = prompt.token_ids[i];
    ASSERT_TRUE(logprobs[i]->count(token)) << i;
    EXPECT_NEAR(logprobs[i]->at(token).logprob, std::log(reference[token]), 1e-6) << i;
    // The prompt token plus the 2 most likely ones (fewer when it is among them).
    EXPECT_GE(logprobs[i]->size(), 2u);
    EXPECT_LE(logprobs[i]->size(), 3u);
  }
}

TEST(SamplerEngine, PromptLogprobsOneTokenPrompt) {
  SamplingParams params;
  params.max_tokens = 1;
  params.prompt_logprobs = 0;
  auto engine = fake_engine();
  engine->add_request("r", ids_prompt(1, 9), params);
  const RequestOutput output = run_all(*engine).at("r");
  ASSERT_TRUE(output.prompt_logprobs.has_value());
  ASSERT_EQ(output.prompt_logprobs->size(), 1u);
  EXPECT_FALSE((*output.prompt_logprobs)[0].has_value());
}

TEST(SamplerEngine, TruncatePromptTokens) {
  SamplingParams params;
  params.max_tokens = 1;
  params.truncate_prompt_tokens = 4;
  auto engine = fake_engine();
  const PromptInput prompt = ids_prompt(10, 10);
  engine->add_request("r", prompt, params);
  const RequestOutput output = run_all(*engine).at("r");
  EXPECT_EQ(output.prompt_token_ids,
            std::vector<int32_t>(prompt.token_ids.end() - 4, prompt.token_ids.end()));
}

std::string add_request_error(LLMEngine& engine, const SamplingParams& params) {
  try {
    engine.add_request("bad", ids_prompt(4, 0), params);
  } catch (const InvalidArgument& error) {
    return error.what();
  }
  return "";
}

TEST(SamplerEngine, VocabularyValidation) {
  auto engine = fake_engine();
  SamplingParams bias;
  bias.logit_bias = {{64, 1.0}, {-1, 2.0}};
  EXPECT_EQ(add_request_error(*engine, bias),
            "token_id(s) [-1, 64] in logit_bias contain out-of-vocab token ids. Vocabulary "
            "size: 64");
  SamplingParams allowed;
  allowed.allowed_token_ids = std::vector<int32_t>{1, 99};
  EXPECT_EQ(add_request_error(*engine, allowed),
            "allowed_token_ids contains out-of-vocab token id!");
  SamplingParams stop_ids;
  stop_ids.stop_token_ids = {70};
  EXPECT_EQ(add_request_error(*engine, stop_ids),
            "token_id(s) [70] in stop_token_ids contain out-of-vocab token ids. Vocabulary "
            "size: 64");
  SamplingParams prompt_logprobs;
  prompt_logprobs.prompt_logprobs = 21;
  EXPECT_EQ(add_request_error(*engine, prompt_logprobs),
            "Requested prompt logprobs of 21, which is greater than max allowed: 20");
}

// min_tokens masks the stop tokens, so an allowed set of stop tokens only is rejected up
// front instead of failing in the sampler.
TEST(SamplerEngine, MinTokensWithOnlyStopTokensAllowed) {
  auto engine = fake_engine();
  SamplingParams params;
  params.allowed_token_ids = std::vector<int32_t>{5, 6};
  params.stop_token_ids = {5, 6};
  params.min_tokens = 3;
  EXPECT_NE(add_request_error(*engine, params).find("allowed_token_ids [5, 6] are all EOS or "
                                                    "stop tokens"),
            std::string::npos);
  params.min_tokens = 0;
  EXPECT_EQ(add_request_error(*engine, params), "");
}

// Real model: prompt logprobs equal the logprobs of the same tokens when generated.

TEST(SamplerRealModel, PromptLogprobsEqualGenerationLogprobs) {
  VLLM_REQUIRE_TEST_MODEL(model);
  EngineArgs args;
  args.model = model;
  args.max_model_len = 128;
  args.kv_cache_memory_bytes = 64LL << 20;
  LLMEngine engine(args);

  PromptInput prompt;
  prompt.text = "The capital of France is";
  SamplingParams generate;
  generate.temperature = 0.0;
  generate.max_tokens = 4;
  generate.ignore_eos = true;
  generate.logprobs = 0;
  engine.add_request("generate", prompt, generate);
  const RequestOutput generated = run_all(engine).at("generate");
  const CompletionOutput& completion = generated.outputs[0];
  ASSERT_EQ(completion.token_ids.size(), 4u);

  // Teacher forcing: the prompt followed by the generated tokens, scored as a prompt.
  PromptInput forced;
  forced.token_ids = generated.prompt_token_ids;
  forced.token_ids.insert(forced.token_ids.end(), completion.token_ids.begin(),
                          completion.token_ids.end());
  SamplingParams score;
  score.max_tokens = 1;
  score.prompt_logprobs = 1;
  engine.add_request("score", forced, score);
  const RequestOutput scored = run_all(engine).at("score");
  ASSERT_TRUE(scored.prompt_logprobs.has_value());
  ASSERT_EQ(scored.prompt_logprobs->size(), forced.token_ids.size());

  const size_t num_prompt = generated.prompt_token_ids.size();
  for (size_t i = 0; i < completion.token_ids.size(); ++i) {
    const int32_t token = completion.token_ids[i];
    const auto& entry = (*scored.prompt_logprobs)[num_prompt + i];
    ASSERT_TRUE(entry.has_value());
    ASSERT_TRUE(entry->count(token));
    const Logprob& expected = completion.logprobs->at(i).at(token);
    // Prefill and decode run the kernels on different shapes, so allow float rounding.
    EXPECT_NEAR(entry->at(token).logprob, expected.logprob, 1e-4) << "token " << i;
    EXPECT_EQ(entry->at(token).rank, 1) << "greedy tokens rank first";
  }
}

}  // namespace
}  // namespace vllm
