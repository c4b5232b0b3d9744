// Subcommands of the `vllm` program. Each returns the process exit status.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vllm::cli {

// Options of `vllm generate`, with vLLM's flag names; zero means "derive it".
struct GenerateOptions {
  std::string model;
  std::string prompt;
  int max_tokens = 16;
  double temperature = 1.0;
  double top_p = 1.0;
  int top_k = 0;
  double min_p = 0.0;
  int64_t seed = 0;
  int64_t max_model_len = 0;
  int max_num_seqs = 256;
  int64_t kv_cache_memory_bytes = 0;
  int num_threads = 0;
};

// Loads the model, generates one completion of `options.prompt` and streams its text to
// stdout as it is produced. Throws VllmError subclasses on failure.
int run_generate(const GenerateOptions& options);

}  // namespace vllm::cli
