// End-to-end check of the engine on Gemma 3 270M Q4_K_M against HF transformers.
//
// tests/data/goldens/gemma3_270m_q4_k_m.json holds, for 8 prompts given as token ids, the
// greedy continuation and the top-5 logprobs of every step, recorded by
// tools/make_goldens.py with transformers on the same GGUF file (every tensor dequantized
// to float32, float32 activations). The long prompt is longer than the model's 512-token
// sliding window, so the window matters. The engine reads the same blocks with its own
// Q5_0, Q4_K, Q6_K and Q8_0 kernels.
//
// $VLLM_TEST_GEMMA3_MODEL names the model file and must exist when set. Without it, the
// test uses the file tools/fetch_gemma3.sh writes into the cache, or skips when it is absent.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include "gemma3_model.h"
#include "golden_util.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

using testing::GoldenPrompt;
using testing::Goldens;

Goldens load_goldens() { return testing::load_goldens("gemma3_270m_q4_k_m.json"); }

// The golden file itself: well formed and consistent with greedy decoding. Runs without the
// model.
TEST(Gemma3Goldens, FileConsistent) { testing::expect_goldens_consistent(load_goldens()); }

// At least one prompt is longer than the 512-token sliding window of Gemma 3 270M.
TEST(Gemma3Goldens, LongPromptExceedsWindow) {
  const Goldens goldens = load_goldens();
  size_t longest = 0;
  for (const GoldenPrompt& prompt : goldens.prompts) {
    longest = std::max(longest, prompt.prompt_token_ids.size());
  }
  EXPECT_GT(longest, 512u);
}

// Greedy outputs and logprobs of the engine against transformers, all prompts in one batch.
TEST(Gemma3Goldens, MatchTransformers) {
  const std::string model_path = testing::find_gemma3_model();
  if (model_path.empty()) {
    GTEST_SKIP() << "Gemma 3 270M not found: run tools/fetch_gemma3.sh or set "
                    "VLLM_TEST_GEMMA3_MODEL";
  }
  ASSERT_TRUE(std::filesystem::is_regular_file(model_path))
      << "VLLM_TEST_GEMMA3_MODEL names a missing file: " << model_path;
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
