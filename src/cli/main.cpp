// The `vllm` program. `vllm generate` runs here; the Python `vllm` command execs this
// binary for every subcommand, so both spellings behave the same.
//
// Exit status: 0 on success, 1 when a command fails (the message goes to stderr as
// "Error: ..."), 2 for invalid flags and for subcommands this build does not have yet.
#include <cstdio>
#include <exception>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/client_commands.h"
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
  vllm::cli::add_model_source_options(command, options.revision, options.dtype,
                                      options.generation_config);
  // Unset sampling flags take the model's generation-config defaults, else vLLM's.
  command.add_option("--max-tokens", options.max_tokens,
                     "Maximum number of tokens to generate (default 16)");
  command.add_option("--temperature", options.temperature,
                     "Sampling temperature; 0 means greedy (default 1)");
  command.add_option("--top-p", options.top_p, "Cumulative probability of the top tokens "
                     "to sample from, in (0, 1] (default 1)");
  command.add_option("--top-k", options.top_k,
                     "Number of top tokens to sample from; 0 or -1 means all (default 0)");
  command.add_option("--min-p", options.min_p,
                     "Minimum token probability relative to the most likely token, in [0, 1] "
                     "(default 0)");
  command.add_option("--repetition-penalty", options.repetition_penalty,
                     "Divides the positive and multiplies the negative logits of tokens "
                     "already seen (default 1)");
  command.add_option("--seed", options.seed,
                     "Seed of the random generator for sampling; unseeded runs differ");
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
  command.add_flag("--enable-chunked-prefill,!--no-enable-chunked-prefill",
                   options.enable_chunked_prefill,
                   "Split long prompts over several steps (default on)");
}

// Registers `vllm bench`, which the Python package runs (vllm.benchmarks) before this
// program starts. `vllm --help` then lists it, and running this binary directly prints
// where the command is instead of failing as an unknown command.
void add_python_only_command(CLI::App& app, const std::string& name,
                             const std::string& description, bool& selected) {
  CLI::App* command = app.add_subcommand(name, description);
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

  bool python_only_selected = false;
  vllm::server::ServerArgs serve_args;
  CLI::App* serve = vllm::cli::add_serve_command(app, serve_args);
  vllm::cli::ClientOptions client_options;
  CLI::App* chat = vllm::cli::add_chat_command(app, client_options);
  CLI::App* complete = vllm::cli::add_complete_command(app, client_options);
  add_python_only_command(app, "bench", "Benchmark latency, throughput or serving",
                          python_only_selected);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version arrive here too, with exit code 0.
    const int status = app.exit(error);
    return status == 0 ? 0 : kExitUsage;
  }

  if (python_only_selected) {
    const std::string name = app.get_subcommands().front()->get_name();
    std::fprintf(stderr,
                 "Error: `vllm %s` runs in Python: use the `vllm` command that pip installs "
                 "(python -m vllm.entrypoints.cli.main %s ...), not this binary.\n",
                 name.c_str(), name.c_str());
    return kExitUsage;
  }

  try {
    if (serve->parsed()) return vllm::cli::run_serve(serve_args);
    if (chat->parsed()) return vllm::cli::run_chat(client_options);
    if (complete->parsed()) return vllm::cli::run_complete(client_options);
    return vllm::cli::run_generate(generate_options);
  } catch (const std::exception& error) {
    std::fflush(stdout);
    std::fprintf(stderr, "Error: %s\n", error.what());
    return kExitFailure;
  }
}
