// The `vllm` program. `vllm generate` runs here; the Python `vllm` command execs this
// binary for every subcommand, so both spellings behave the same.
//
// Exit status: 0 on success, 1 when a command fails (the message goes to stderr as
// "Error: ..."), 2 for invalid flags and for subcommands this build does not have yet.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "cli/serve_command.h"

#ifndef VLLM_VERSION
#define VLLM_VERSION "0.0.0"
#endif

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

void add_generate_options(CLI::App& command, vllm::cli::GenerateOptions& options) {
  command.add_option("prompt", options.prompt, "Prompt text to complete")->required();
  command.add_option("--model", options.model,
                     "Path of a .gguf file or HF model directory; the default model in "
                     "the cache when omitted");
  command.add_option("--max-tokens", options.max_tokens,
                     "Maximum number of tokens to generate")
      ->capture_default_str();
  command.add_option("--temperature", options.temperature,
                     "Sampling temperature; 0 means greedy")
      ->capture_default_str();
  command.add_option("--top-p", options.top_p, "Cumulative probability of the top tokens "
                     "to sample from, in (0, 1]")
      ->capture_default_str();
  command.add_option("--top-k", options.top_k,
                     "Number of top tokens to sample from; 0 or -1 means all")
      ->capture_default_str();
  command.add_option("--min-p", options.min_p,
                     "Minimum token probability relative to the most likely token, in [0, 1]")
      ->capture_default_str();
  command.add_option("--seed", options.seed, "Seed of the random generator for sampling")
      ->capture_default_str();
  command.add_option("--max-model-len", options.max_model_len,
                     "Context length in tokens (prompt plus output); 0 uses the model's")
      ->capture_default_str();
  command.add_option("--max-num-seqs", options.max_num_seqs,
                     "Maximum number of sequences per engine step")
      ->capture_default_str();
  command.add_option("--kv-cache-memory-bytes", options.kv_cache_memory_bytes,
                     "KV cache size in bytes; 0 uses VLLM_CPU_KVCACHE_SPACE (GiB) or "
                     "free memory")
      ->capture_default_str();
  command.add_option("--threads", options.num_threads,
                     "Number of CPU threads; 0 uses every available core")
      ->capture_default_str();
  // TODO(chat-template): add --chat once the Jinja chat-template renderer exists.
}

// Registers a subcommand that vLLM has but this build does not, so that `vllm --help`
// lists it and running it prints that it is not implemented, instead of failing as an
// unknown command.
void add_unavailable_command(CLI::App& app, const std::string& name,
                             const std::string& description, bool& selected) {
  CLI::App* command = app.add_subcommand(name, description + " (not implemented yet)");
  command->allow_extras();
  command->prefix_command();
  command->callback([&selected] { selected = true; });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vLLM in C++: offline generation and an OpenAI-compatible server",
               "vllm"};
  app.set_version_flag("-v,--version", VLLM_VERSION);
  app.require_subcommand(1);

  vllm::cli::GenerateOptions generate_options;
  CLI::App* generate = app.add_subcommand(
      "generate", "Generate a completion of one prompt and stream it to stdout");
  add_generate_options(*generate, generate_options);

  bool unavailable_selected = false;
  vllm::server::ServerArgs serve_args;
  CLI::App* serve = vllm::cli::add_serve_command(app, serve_args);
  add_unavailable_command(app, "chat", "Chat with a running server", unavailable_selected);
  add_unavailable_command(app, "complete", "Complete a prompt with a running server",
                          unavailable_selected);
  add_unavailable_command(app, "bench", "Benchmark latency, throughput or serving",
                          unavailable_selected);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version arrive here too, with exit code 0.
    const int status = app.exit(error);
    return status == 0 ? 0 : kExitUsage;
  }

  if (unavailable_selected) {
    const std::string name = app.get_subcommands().front()->get_name();
    std::fprintf(stderr, "Error: `vllm %s` is not implemented yet in this build.\n",
                 name.c_str());
    return kExitUsage;
  }

  try {
    if (serve->parsed()) return vllm::cli::run_serve(serve_args);
    return vllm::cli::run_generate(generate_options);
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "Error: %s\n", error.what());
    return kExitFailure;
  }
}
