// Subcommands of the `vllm` program. Each returns the process exit status.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

namespace vllm::cli {

// Options of `vllm generate`, with vLLM's flag names; zero means "derive it". Sampling
// values left unset come from the model's generation config (see --generation-config),
// else vLLM's SamplingParams defaults.
struct GenerateOptions {
  std::string model;
  std::string revision;
  std::string dtype = "auto";
  std::string generation_config = "auto";
  std::string prompt;
  std::optional<int> max_tokens;
  std::optional<double> temperature;
  std::optional<double> top_p;
  std::optional<int> top_k;
  std::optional<double> min_p;
  std::optional<double> repetition_penalty;
  std::optional<int64_t> seed;
  int64_t max_model_len = 0;
  int max_num_seqs = 256;
  int64_t kv_cache_memory_bytes = 0;
  int num_threads = 0;
  bool enable_chunked_prefill = true;
};

// Registers --revision, --dtype and --generation-config, shared by `vllm serve` and
// `vllm generate`. --dtype takes vLLM's names, "half" and "float" included, and stores the
// engine's name ("float16", "float32").
void add_model_source_options(CLI::App& command, std::string& revision, std::string& dtype,
                              std::string& generation_config);

// Loads the model, generates one completion of `options.prompt` and streams its text to
// stdout as it is produced. Throws VllmError subclasses on failure.
int run_generate(const GenerateOptions& options);

}  // namespace vllm::cli
