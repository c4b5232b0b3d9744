// Locates the Gemma 3 270M Q4_K_M GGUF file for the tests that need it.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace vllm::testing {

// Returns $VLLM_TEST_GEMMA3_MODEL when set (the caller checks that it exists). Otherwise
// returns the file tools/fetch_gemma3.sh writes into the cache ($VLLM_CACHE_ROOT,
// $XDG_CACHE_HOME/vllm or ~/.cache/vllm), or "" when that file is absent.
inline std::string find_gemma3_model() {
  if (const char* path = std::getenv("VLLM_TEST_GEMMA3_MODEL"); path != nullptr && *path != '\0') {
    return path;
  }
  std::string cache_root;
  if (const char* root = std::getenv("VLLM_CACHE_ROOT"); root != nullptr && *root != '\0') {
    cache_root = root;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    cache_root = std::string(xdg) + "/vllm";
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    cache_root = std::string(home) + "/.cache/vllm";
  }
  const std::string path = cache_root + "/models/gemma-3-270m-q4_k_m.gguf";
  return std::filesystem::is_regular_file(path) ? path : "";
}

}  // namespace vllm::testing
