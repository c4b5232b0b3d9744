// Goldens recorded with HF transformers (tools/make_goldens.py, tools/export_smollm2_hf.py)
// and the rule the engine's greedy outputs must meet against them: most continuations
// exact, the rest diverging only at a near-tie, and logprobs within a float32 tolerance
// while the contexts agree.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "vllm/engine.h"

namespace vllm::testing {

// At least this many of the 8 golden continuations must equal transformers' exactly.
inline constexpr int kMinExactGoldenMatches = 6;
// Largest accepted |logprob(engine) - logprob(transformers)| for one token while the two
// contexts agree. Measured: at most 3.7e-5, the size of the reference's own float32 noise
// (3.1e-5 against a float64 run). Errors this must catch move logprobs far more: rms_norm_eps
// 1e-6 instead of 1e-5 by 0.011, bf16 hidden states by 0.19, int8 activations by 0.99
// (docs/goldens.md), so 1e-3 leaves 30x room for other summation orders.
inline constexpr double kGoldenLogprobTolerance = 1e-3;

struct TopLogprob {
  int32_t token_id;
  double logprob;
};

struct GoldenPrompt {
  std::string name;
  std::vector<int32_t> prompt_token_ids;
  std::vector<int32_t> output_token_ids;
  std::vector<std::vector<TopLogprob>> top_logprobs;  // [num_steps][5], best first
};

struct Goldens {
  int max_tokens = 0;
  int num_top_logprobs = 0;
  std::string safetensors_sha256;  // of the weights the goldens were recorded on, if given
  std::vector<GoldenPrompt> prompts;
};

// Reads tests/data/goldens/`file_name`.
inline Goldens load_goldens(const std::string& file_name) {
  const std::string path = std::string(VLLM_TEST_DATA_DIR) + "/goldens/" + file_name;
  std::ifstream file(path);
  if (!file) throw std::runtime_error("cannot open golden file " + path);
  const nlohmann::json json = nlohmann::json::parse(file);
  const nlohmann::json& metadata = json.at("metadata");

  Goldens goldens;
  goldens.max_tokens = metadata.at("max_tokens").get<int>();
  goldens.num_top_logprobs = metadata.at("num_top_logprobs").get<int>();
  goldens.safetensors_sha256 = metadata.value("safetensors_sha256", std::string());
  for (const auto& entry : json.at("prompts")) {
    GoldenPrompt prompt;
    prompt.name = entry.at("name").get<std::string>();
    prompt.prompt_token_ids = entry.at("prompt_token_ids").get<std::vector<int32_t>>();
    prompt.output_token_ids = entry.at("output_token_ids").get<std::vector<int32_t>>();
    for (const auto& step : entry.at("top_logprobs")) {
      std::vector<TopLogprob> top;
      for (const auto& pair : step) {
        top.push_back({pair.at(0).get<int32_t>(), pair.at(1).get<double>()});
      }
      prompt.top_logprobs.push_back(std::move(top));
    }
    goldens.prompts.push_back(std::move(prompt));
  }
  return goldens;
}

// Checks that a golden file is well formed and consistent with greedy decoding: 8 prompts,
// each step's top 5 sorted, led by the greedy token, with logprobs at most 0.
inline void expect_goldens_consistent(const Goldens& goldens) {
  EXPECT_EQ(goldens.prompts.size(), 8u);
  EXPECT_EQ(goldens.num_top_logprobs, 5);
  for (const GoldenPrompt& prompt : goldens.prompts) {
    EXPECT_FALSE(prompt.prompt_token_ids.empty()) << prompt.name;
    ASSERT_EQ(prompt.output_token_ids.size(), static_cast<size_t>(goldens.max_tokens))
        << prompt.name;
    ASSERT_EQ(prompt.top_logprobs.size(), prompt.output_token_ids.size()) << prompt.name;
    for (size_t step = 0; step < prompt.top_logprobs.size(); ++step) {
      const auto& top = prompt.top_logprobs[step];
      ASSERT_EQ(top.size(), 5u) << prompt.name << " step " << step;
      EXPECT_EQ(top.front().token_id, prompt.output_token_ids[step])
          << prompt.name << " step " << step << ": greedy token is not the top-1 token";
      for (size_t i = 1; i < top.size(); ++i) {
        EXPECT_LE(top[i].logprob, top[i - 1].logprob) << prompt.name << " step " << step;
      }
      EXPECT_LE(top.front().logprob, 0.0) << prompt.name << " step " << step;
    }
  }
}

// Submits every golden prompt greedily to `engine` at once, so that they are batched
// together, and returns the finished outputs by request id (the prompt's name).
inline std::map<std::string, CompletionOutput> run_goldens(LLMEngine& engine,
                                                           const Goldens& goldens) {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = goldens.max_tokens;
  params.ignore_eos = true;
  params.logprobs = goldens.num_top_logprobs;
  for (const GoldenPrompt& prompt : goldens.prompts) {
    PromptInput input;
    input.token_ids = prompt.prompt_token_ids;
    engine.add_request(prompt.name, input, params);
  }

  std::map<std::string, CompletionOutput> results;
  // Guards against a hang only.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (results.size() < goldens.prompts.size() &&
         std::chrono::steady_clock::now() < deadline) {
    for (RequestOutput& output : engine.get_outputs(std::chrono::milliseconds(100))) {
      if (output.finished && !output.outputs.empty()) {
        results[output.request_id] = std::move(output.outputs.front());
      }
    }
  }
  return results;
}

// run_goldens on a new engine for `model`.
inline std::map<std::string, CompletionOutput> generate_goldens(const std::string& model,
                                                                const Goldens& goldens) {
  EngineArgs args;
  args.model = model;
  args.max_model_len = 2048;
  args.kv_cache_memory_bytes = int64_t{256} << 20;
  LLMEngine engine(args);
  return run_goldens(engine, goldens);
}

// Number of leading tokens on which both sequences agree.
inline size_t count_matching_prefix(const std::vector<int32_t>& expected,
                                    const std::vector<int32_t>& actual) {
  size_t n = 0;
  while (n < expected.size() && n < actual.size() && expected[n] == actual[n]) ++n;
  return n;
}

inline bool in_golden_top(const std::vector<TopLogprob>& top, int32_t token_id) {
  return std::any_of(top.begin(), top.end(),
                     [&](const TopLogprob& entry) { return entry.token_id == token_id; });
}

// Checks `results` against `goldens` by the rule above and prints a table of matched
// tokens and the largest logprob difference per prompt.
inline void expect_match_goldens(const Goldens& goldens,
                                 const std::map<std::string, CompletionOutput>& results) {
  int num_exact = 0;
  std::string table = fmt::format("{:<14}{:>8}{:>10}{:>16}\n", "prompt", "tokens", "matched",
                                  "max |dlogprob|");
  for (const GoldenPrompt& golden : goldens.prompts) {
    auto it = results.find(golden.name);
    const bool finished = it != results.end();
    EXPECT_TRUE(finished) << golden.name << ": request did not finish within the timeout";
    if (!finished) continue;
    const CompletionOutput& output = it->second;

    EXPECT_EQ(output.token_ids.size(), golden.output_token_ids.size())
        << golden.name << ": wrong number of generated tokens";
    EXPECT_TRUE(output.logprobs.has_value()) << golden.name << ": no logprobs returned";
    if (!output.logprobs.has_value()) continue;
    const SampleLogprobs& logprobs = *output.logprobs;
    EXPECT_EQ(logprobs.size(), output.token_ids.size()) << golden.name;

    const size_t num_matched = count_matching_prefix(golden.output_token_ids, output.token_ids);
    if (num_matched == golden.output_token_ids.size()) ++num_exact;

    // Logprobs are comparable on every step whose context agrees: the matched steps and the
    // first diverging one.
    const size_t num_compared =
        std::min({num_matched + 1, golden.output_token_ids.size(), logprobs.size()});
    double max_diff = 0.0;
    std::string worst;  // where max_diff occurs, for the failure message
    for (size_t step = 0; step < num_compared; ++step) {
      for (const TopLogprob& expected : golden.top_logprobs[step]) {
        auto found = logprobs[step].find(expected.token_id);
        // A token near the 5th place may be 6th on the other side; compare it when present.
        if (found == logprobs[step].end()) continue;
        const double diff = std::abs(found->second.logprob - expected.logprob);
        if (diff > max_diff) {
          max_diff = diff;
          worst = fmt::format("step {} token {}: engine logprob {:.6f}, transformers {:.6f}",
                              step, expected.token_id, found->second.logprob,
                              expected.logprob);
        }
      }
    }
    EXPECT_LE(max_diff, kGoldenLogprobTolerance) << golden.name << " " << worst;

    // A divergence is accepted only at a near-tie: each side's token is in the other's top 5.
    if (num_matched < golden.output_token_ids.size() && num_matched < output.token_ids.size()) {
      const int32_t expected_token = golden.output_token_ids[num_matched];
      const int32_t actual_token = output.token_ids[num_matched];
      EXPECT_TRUE(logprobs[num_matched].count(expected_token) > 0)
          << golden.name << " step " << num_matched << ": transformers' token "
          << expected_token << " is not in the engine's top-5";
      EXPECT_TRUE(in_golden_top(golden.top_logprobs[num_matched], actual_token))
          << golden.name << " step " << num_matched << ": engine token " << actual_token
          << " is not in transformers' top-5";
    }

    table += fmt::format("{:<14}{:>8}{:>7}/{:<2}{:>16.2e}\n", golden.name,
                         golden.prompt_token_ids.size(), num_matched,
                         golden.output_token_ids.size(), max_diff);
  }
  EXPECT_GE(num_exact, kMinExactGoldenMatches)
      << "only " << num_exact << " of " << goldens.prompts.size()
      << " continuations equal transformers' greedy output";
  std::cout << table
            << fmt::format("{} of {} continuations exact\n", num_exact, goldens.prompts.size());
}

}  // namespace vllm::testing
