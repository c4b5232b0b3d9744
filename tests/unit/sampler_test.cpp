#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

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

}  // namespace
}  // namespace vllm
