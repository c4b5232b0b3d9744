#include "cli/serve_command.h"

#include "server/api_server.h"

#ifndef VLLM_VERSION
#define VLLM_VERSION "0.0.0"
#endif

namespace vllm::cli {

CLI::App* add_serve_command(CLI::App& app, server::ServerArgs& args) {
  CLI::App* serve = app.add_subcommand("serve", "Start the OpenAI-compatible HTTP server");
  EngineArgs& engine = args.engine;
  server::HttpLimits& limits = args.limits;

  serve->add_option("model_tag", engine.model,
                    "Path of a .gguf file or HF model directory; the default model in the "
                    "cache when omitted");
  serve->add_option("--model", engine.model, "Same as the positional MODEL");
  serve->add_option("--host", args.host, "Address to listen on")->capture_default_str();
  serve->add_option("--port", args.port, "TCP port to listen on")->capture_default_str();
  serve->add_option("--served-model-name", args.served_model_name,
                    "Model name clients send in \"model\"; the --model argument when omitted");
  serve->add_option("--api-key", args.api_key,
                    "Require this key as \"Authorization: Bearer KEY\" on /v1 routes")
      ->envname("VLLM_API_KEY");
  serve->add_option("--chat-template", args.chat_template,
                    "Jinja2 chat template, as a file path or the template text; the model's "
                    "template when omitted");
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
  serve->add_option("--scheduling-policy", engine.scheduling_policy,
                    "Request order: fcfs (first come, first served) or priority (lower "
                    "`priority` value first)")
      ->check(CLI::IsMember({"fcfs", "priority"}))
      ->capture_default_str();

  serve->add_option("--io-threads", args.num_io_threads,
                    "Number of threads running the HTTP event loop")
      ->check(CLI::PositiveNumber)
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
  return serve;
}

int run_serve(server::ServerArgs& args) {
  args.version = VLLM_VERSION;
  return server::run_api_server(args);
}

}  // namespace vllm::cli
