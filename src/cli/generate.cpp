// `vllm generate`: one prompt in, its completion streamed to stdout.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "vllm/engine.h"

namespace vllm::cli {
namespace {

// `defaults` with the sampling flags the user set written over it.
SamplingParams apply_sampling_flags(const GenerateOptions& options, SamplingParams defaults) {
  SamplingParams params = std::move(defaults);
  if (options.max_tokens) params.max_tokens = *options.max_tokens;
  if (options.temperature) params.temperature = *options.temperature;
  if (options.top_p) params.top_p = *options.top_p;
  if (options.top_k) params.top_k = *options.top_k;
  if (options.min_p) params.min_p = *options.min_p;
  if (options.repetition_penalty) params.repetition_penalty = *options.repetition_penalty;
  params.seed = options.seed;
  return params;
}

}  // namespace

int run_generate(const GenerateOptions& options) {
  EngineArgs args;
  args.model = options.model;
  args.revision = options.revision;
  args.dtype = options.dtype;
  args.generation_config = options.generation_config;
  args.enable_chunked_prefill = options.enable_chunked_prefill;
  args.max_model_len = options.max_model_len;
  args.max_num_seqs = options.max_num_seqs;
  args.kv_cache_memory_bytes = options.kv_cache_memory_bytes;
  args.num_threads = options.num_threads;
  if (options.seed) args.seed = *options.seed;

  // Checks the flags' values before the model loads, so that a typo fails fast.
  apply_sampling_flags(options, SamplingParams{}).validate();

  LLMEngine engine(std::move(args));
  const SamplingParams params = apply_sampling_flags(options, engine.default_sampling_params());
  const std::string request_id = "0";
  engine.add_request(request_id, PromptInput{options.prompt, {}}, params);

  // Outputs are cumulative, so each one prints only the text after what was printed.
  size_t num_printed_bytes = 0;
  bool finished = false;
  std::optional<std::string> error;  // set when the engine aborted the request on a failure
  auto print_new_text = [&](const std::vector<RequestOutput>& outputs) {
    for (const RequestOutput& output : outputs) {
      if (output.request_id != request_id || output.outputs.empty()) continue;
      const std::string& text = output.outputs[0].text;
      if (text.size() > num_printed_bytes) {
        std::fwrite(text.data() + num_printed_bytes, 1, text.size() - num_printed_bytes,
                    stdout);
        std::fflush(stdout);
        num_printed_bytes = text.size();
      }
      finished = finished || output.finished;
      if (output.error) error = output.error;
    }
  };
  while (!finished) {
    if (!engine.has_unfinished_requests()) {
      // The request finished after the previous wait: collect its last output and stop.
      print_new_text(engine.get_outputs(std::chrono::milliseconds(0)));
      break;
    }
    print_new_text(engine.get_outputs(std::chrono::milliseconds(100)));
  }
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (error) {
    std::fprintf(stderr, "Error: generation failed: %s\n", error->c_str());
    return 1;
  }
  return 0;
}

}  // namespace vllm::cli
