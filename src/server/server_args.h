// Settings of the OpenAI-compatible HTTP server (`vllm serve`), apart from the engine's.
#pragma once

#include <cstdint>
#include <string>

#include "core/json_depth.h"
#include "vllm/engine.h"

namespace vllm::server {

// Limits that protect the server from oversized or slow clients.
struct HttpLimits {
  int64_t max_request_body_bytes = 8 << 20;   // larger bodies get 413
  int64_t max_header_bytes = 16 << 10;        // larger header blocks get 431
  int max_connections = 256;                  // further connections wait in the accept backlog
  double keep_alive_timeout_s = 5.0;          // idle time between requests on one connection
  double request_read_timeout_s = 60.0;       // time to receive one whole request
  double write_timeout_s = 60.0;              // time for one write to the client to complete
  int max_json_depth = kDefaultMaxJsonDepth;  // deeper request bodies get 400
  // Generation requests that may wait beyond the --max-num-seqs running ones; further
  // requests get 503 instead of queueing without bound.
  int max_waiting_requests = 1024;
};

struct ServerArgs {
  std::string host = "0.0.0.0";
  int port = 8000;
  std::string served_model_name;   // empty: the --model argument as given
  std::string api_key;             // empty: no authentication
  std::string chat_template;       // file path or inline Jinja2; empty: the model's
  bool enable_prompt_tokens_details = false;   // usage.prompt_tokens_details.cached_tokens
  int num_io_threads = 1;          // threads running the Asio event loop
  // Seconds that SIGTERM or SIGINT leaves in-flight requests to finish before aborting them.
  double shutdown_timeout_s = 5.0;
  std::string version;             // reported by GET /version
  HttpLimits limits;
  EngineArgs engine;
};

}  // namespace vllm::server
