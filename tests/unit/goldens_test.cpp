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
TEST(Goldens, FileConsistent) { testing::expect_goldens_consistent(load_goldens()); }

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
