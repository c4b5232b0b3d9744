// Locates the real default model (SmolLM2-135M-Instruct Q4_1 GGUF) for tests.
//
// $VLLM_TEST_MODEL, when set, names the file and must exist: the test command sets it, so a
// missing model fails there instead of skipping silently. Without it, the default model in
// the cache is used when present, and the tests that need it skip otherwise.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/errors.h"
#include "vllm/engine.h"

namespace vllm::testing {

// Returns the model path, or "" when no model is configured and the default is absent.
inline std::string find_test_model() {
  if (const char* path = std::getenv("VLLM_TEST_MODEL"); path != nullptr && *path != '\0') {
    return path;
  }
  try {
    return resolve_model_path("");
  } catch (const ModelLoadError&) {
    return "";
  }
}

}  // namespace vllm::testing

// Sets `variable` to the model path, skipping the test when there is none, and failing it
// when $VLLM_TEST_MODEL names a file that does not exist.
#define VLLM_REQUIRE_TEST_MODEL(variable)                                                  \
  const std::string variable = ::vllm::testing::find_test_model();                        \
  if (variable.empty()) {                                                                 \
    GTEST_SKIP() << "default model not found: run tools/fetch_default_model.sh or set "   \
                    "VLLM_TEST_MODEL";                                                    \
  }                                                                                       \
  ASSERT_TRUE(std::filesystem::is_regular_file(variable))                                 \
      << "VLLM_TEST_MODEL names a missing file: " << variable
