// State shared by the endpoint handlers of the OpenAI-compatible server.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "server/engine_client.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/openai_protocol.h"
#include "tokenizer/chat_template/chat_template.h"
#include "vllm/engine.h"

namespace vllm::server {

struct ServerContext {
  std::string model_name;     // the served model name clients must send
  std::string model_root;     // the --model argument, reported as "root"
  std::string version;
  std::string api_key;        // empty: no authentication
  bool enable_prompt_tokens_details = false;   // report usage.prompt_tokens_details
  int64_t max_model_len = 0;
  int max_json_depth = kDefaultMaxJsonDepth;   // --max-json-depth
  int max_waiting_requests = 1024;             // --max-waiting-requests
  int64_t created = 0;        // Unix seconds at start, reported by /v1/models
  LLMEngine* engine = nullptr;
  EngineClient* client = nullptr;
  Metrics* metrics = nullptr;
  std::optional<ChatTemplate> chat_template;   // --chat-template or the tokenizer's
};

// Returns a random 32-digit hex id, as vLLM's random_uuid().
std::string random_uuid();
int64_t unix_time_seconds();

// Throws HttpError(404) unless `model` is absent or the served model name.
void check_model(const ServerContext& context, const std::optional<std::string>& model);

// Logs one warning naming the top-level fields of `body` that the endpoint ignores.
void log_unknown_fields(const nlohmann::ordered_json& body, bool chat,
                        const std::string& request_id);

// The id behind "cmpl-"/"chatcmpl-": the X-Request-Id header, else the body's request_id,
// else a random one, as vLLM chooses it.
std::string base_request_id(const HttpRequest& request,
                            const std::optional<std::string>& body_request_id);

// Throws HttpError(400) when one request needs more sequences (n times the number of
// prompts) than the engine admits at once: --max-num-seqs plus --max-waiting-requests. Each
// sequence is a separate engine request, so n = 2^31 - 1 would otherwise exhaust memory.
void check_num_sequences(const ServerContext& context, int64_t num_prompts, int64_t n);

// Sends `body` as a JSON response.
void send_json(ResponseWriter& writer, int status, const nlohmann::ordered_json& body);

// Endpoint handlers; each runs on the connection's strand and throws HttpError or
// InvalidArgument for invalid requests.
void handle_completions(ServerContext& context, const HttpRequest& request,
                        std::shared_ptr<ResponseWriter> writer);
void handle_chat_completions(ServerContext& context, const HttpRequest& request,
                             std::shared_ptr<ResponseWriter> writer);
void handle_tokenize(ServerContext& context, const HttpRequest& request,
                     ResponseWriter& writer);
void handle_detokenize(ServerContext& context, const HttpRequest& request,
                       ResponseWriter& writer);

// Renders a chat request's messages with the request's or the server's template. Throws
// HttpError(400) when there is no template, InvalidArgument for template errors.
std::string render_chat_prompt(const ServerContext& context, const ChatRequest& request);

}  // namespace vllm::server
