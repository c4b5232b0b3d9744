// End-to-end check of the engine on the default model against HF transformers.
//
// tests/data/goldens/smollm2_q4_1.json holds, for 8 prompts, the prompt token ids, the
// greedy continuation of 32 tokens and the top-5 logprobs of every step, recorded by
// tools/make_goldens.py with transformers (GGUF weights dequantized to float32, float32
// activations). The engine dequantizes the same blocks to the same float32 values and also
// computes in float32, so the two differ only by summation order. docs/goldens.md gives
// the measured differences behind kGoldenLogprobTolerance.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "golden_util.h"
#include "test_model.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

using testing::GoldenPrompt;
using testing::Goldens;

Goldens load_goldens() { return testing::load_goldens("smollm2_q4_1.json"); }

// The golden file itself: well formed and consistent with greedy decoding. Runs without the
// model, so a broken golden file shows up even where the model is absent.
TEST(Goldens, FileConsistent) {
  const Goldens goldens = load_goldens();
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

// Greedy outputs and logprobs of the engine against transformers, all prompts in one batch.
TEST(Goldens, MatchTransformers) {
  VLLM_REQUIRE_TEST_MODEL(model_path);
  const Goldens goldens = load_goldens();
  const auto start = std::chrono::steady_clock::now();
  const std::map<std::string, CompletionOutput> results =
      testing::generate_goldens(model_path, goldens);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  testing::expect_match_goldens(goldens, results);
  std::cout << "generation took " << seconds << " s\n";
}

}  // namespace
}  // namespace vllm
