#include "cli/serve_command.h"

#include <map>

#include "cli/commands.h"
#include "server/api_server.h"

#ifndef VLLM_VERSION
#define VLLM_VERSION "0.0.0"
#endif

namespace vllm::cli {

void add_model_source_options(CLI::App& command, std::string& revision, std::string& dtype,
                              std::string& generation_config) {
  command.add_option("--revision", revision,
                     "Branch, tag or commit of a Hugging Face repo id in the local cache; "
                     "\"main\" when omitted");
  command.add_option("--dtype", dtype,
                     "Type of the weight matrices of safetensors checkpoints: auto (the "
                     "checkpoint's), float32 (float), bfloat16 or float16 (half); GGUF files "
                     "keep their tensor types")
      ->transform(
          [](const std::string& value) -> std::string {
            // vLLM's aliases map to the engine's names; the engine's names pass unchanged.
            static const std::map<std::string, std::string> engine_names = {
                {"auto", "auto"},         {"float32", "float32"}, {"float", "float32"},
                {"bfloat16", "bfloat16"}, {"float16", "float16"}, {"half", "float16"}};
            const auto found = engine_names.find(value);
            if (found == engine_names.end()) {
              throw CLI::ValidationError("invalid dtype '" + value +
                                         "': use auto, float32 (float), bfloat16 or "
                                         "float16 (half)");
            }
            return found->second;
          },
          "", "dtype")
      ->capture_default_str();
  command.add_option("--generation-config", generation_config,
                     "Default sampling values of requests: auto (the model's "
                     "generation_config.json), vllm (vLLM's defaults) or a folder holding a "
                     "generation_config.json")
      ->capture_default_str();
}

CLI::App* add_serve_command(CLI::App& app, server::ServerArgs& args) {
  CLI::App* serve = app.add_subcommand("serve", "Start the OpenAI-compatible HTTP server");
  EngineArgs& engine = args.engine;
  server::HttpLimits& limits = args.limits;

  serve->add_option("model_tag", engine.model,
                    "Path of a .gguf file or HF model directory; the default model in the "
                    "cache when omitted");
  serve->add_option("--model", engine.model, "Same as the positional MODEL");
  add_model_source_options(*serve, engine.revision, engine.dtype, engine.generation_config);
  serve->add_option("--host", args.host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", args.port, "TCP port to listen on")->capture_default_str()
      ->check(CLI::Range(0, 65535));
  serve->add_option("--served-model-name", args.served_model_name,
                    "Model name clients send in \"model\"; the --model argument when omitted");
  serve->add_option("--api-key", args.api_key,
                    "Require this key as \"Authorization: Bearer KEY\" on /v1 routes")
      ->envname("VLLM_API_KEY");
  serve->add_option("--chat-template", args.chat_template,
                    "Jinja2 chat template, as a file path or the template text; the model's "
                    "template when omitted");
  serve->add_flag("--enable-prompt-tokens-details", args.enable_prompt_tokens_details,
                  "Report usage.prompt_tokens_details.cached_tokens (prompt tokens served "
                  "from the prefix cache)");
  serve->add_option("--max-model-len", engine.max_model_len,
                    "Context length in tokens (prompt plus output); 0 uses the model's")
      ->capture_default_str();
  serve->add_option("--max-num-seqs", engine.max_num_seqs,
                    "Maximum number of sequences per engine step")
      ->capture_default_str();
  serve->add_option("--max-num-batched-tokens", engine.max_num_batched_tokens,
                    "Maximum number of tokens per engine step; 0 derives it")
      ->capture_default_str();
  serve->add_option("--block-size", engine.block_size, "KV cache block size in tokens")
      ->capture_default_str();
  serve->add_option("--kv-cache-memory-bytes", engine.kv_cache_memory_bytes,
                    "KV cache size in bytes; 0 uses VLLM_CPU_KVCACHE_SPACE (GiB) or free "
                    "memory")
      ->capture_default_str();
  serve->add_option("--max-logprobs", engine.max_logprobs,
                    "Maximum logprobs per token a request may ask for; -1 means no cap")
      ->capture_default_str();
  serve->add_option("--threads", engine.num_threads,
                    "Number of CPU threads of the model; 0 uses every available core")
      ->capture_default_str();
  serve->add_option("--seed", engine.seed, "Engine seed")->capture_default_str();
  serve->add_flag("--enable-prefix-caching,!--no-enable-prefix-caching",
                  engine.enable_prefix_caching,
                  "Reuse the KV cache blocks of earlier requests' shared prefixes (default on)");
  serve->add_flag("--enable-chunked-prefill,!--no-enable-chunked-prefill",
                  engine.enable_chunked_prefill,
                  "Split long prompts over several steps so that running requests keep "
                  "decoding (default on)");
  serve->add_option("--scheduling-policy", engine.scheduling_policy,
                    "Request order: fcfs (first come, first served) or priority (lower "
                    "`priority` value first)")
      ->check(CLI::IsMember({"fcfs", "priority"}))
      ->capture_default_str();

  serve->add_option("--io-threads", args.num_io_threads,
                    "Number of threads running the HTTP event loop")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--shutdown-timeout", args.shutdown_timeout_s,
                    "Seconds that SIGTERM or SIGINT gives in-flight requests to finish before "
                    "they are aborted; new connections are refused meanwhile")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  serve->add_option("--max-request-body-bytes", limits.max_request_body_bytes,
                    "Largest request body in bytes; larger ones get 413")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--max-header-bytes", limits.max_header_bytes,
                    "Largest request header block in bytes; larger ones get 431")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--max-connections", limits.max_connections,
                    "Maximum number of open client connections; further clients wait "
                    "until one closes")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--keep-alive-timeout-s", limits.keep_alive_timeout_s,
                    "Seconds an idle connection stays open between requests")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--request-read-timeout-s", limits.request_read_timeout_s,
                    "Seconds a client has to send one whole request")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--write-timeout-s", limits.write_timeout_s,
                    "Seconds one write to a client may take before the connection is closed "
                    "(and its request aborted)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--max-json-depth", limits.max_json_depth,
                    "Deepest nesting of arrays and objects in a request body; deeper bodies "
                    "get 400")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  serve->add_option("--max-waiting-requests", limits.max_waiting_requests,
                    "Generation requests that may wait beyond the --max-num-seqs running ones; "
                    "further requests get 503")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  return serve;
}

int run_serve(server::ServerArgs& args) {
  args.version = VLLM_VERSION;
  return server::run_api_server(args);
}

}  // namespace vllm::cli
