#include "server/router.h"

#include <chrono>
#include <random>

#include <fmt/format.h>

#include "core/logging.h"
#include "server/errors.h"

namespace vllm::server {

using json = nlohmann::ordered_json;
namespace http = boost::beast::http;

std::string random_uuid() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", generator(), generator());
}

int64_t unix_time_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void check_model(const ServerContext& context, const std::optional<std::string>& model) {
  if (model.has_value() && *model != context.model_name) {
    throw HttpError(404, fmt::format("The model `{}` does not exist.", *model), "model");
  }
}

void check_num_sequences(const ServerContext& context, int64_t num_prompts, int64_t n) {
  // n below 1 is left to SamplingParams' validation, which names it.
  if (n < 1) return;
  const int64_t limit = static_cast<int64_t>(context.engine->args().max_num_seqs) +
                        context.max_waiting_requests;
  if (num_prompts > limit / n) {
    throw bad_request(fmt::format("The request needs {} prompts times n = {} sequences, "
                                  "more than the server admits at once ({}: --max-num-seqs "
                                  "plus --max-waiting-requests).", num_prompts, n, limit),
                      "n");
  }
}

void send_json(ResponseWriter& writer, int status, const json& body) {
  writer.send(status, "application/json",
              body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

namespace {

json models_response(const ServerContext& context) {
  json permission = {{"id", "modelperm-" + random_uuid()},
                     {"object", "model_permission"},
                     {"created", context.created},
                     {"allow_create_engine", false},
                     {"allow_sampling", true},
                     {"allow_logprobs", true},
                     {"allow_search_indices", false},
                     {"allow_view", true},
                     {"allow_fine_tuning", false},
                     {"organization", "*"},
                     {"group", nullptr},
                     {"is_blocking", false}};
  json model = {{"id", context.model_name},
                {"object", "model"},
                {"created", context.created},
                {"owned_by", "vllm"},
                {"root", context.model_root},
                {"parent", nullptr},
                {"max_model_len", context.max_model_len},
                {"permission", json::array({std::move(permission)})}};
  return json{{"object", "list"}, {"data", json::array({std::move(model)})}};
}

// FastAPI's bodies for unknown routes and wrong methods, which vLLM returns as they are.
void send_detail(ResponseWriter& writer, int status, const char* detail) {
  send_json(writer, status, json{{"detail", detail}});
}

// Throws HttpError(503) when the engine already has max_num_seqs running requests plus
// max_waiting_requests waiting ones, so that a burst of clients cannot queue without bound.
void check_capacity(const ServerContext& context) {
  const size_t num_in_flight = context.client->num_in_flight();
  const size_t capacity = static_cast<size_t>(context.engine->args().max_num_seqs) +
                          static_cast<size_t>(context.max_waiting_requests);
  if (num_in_flight >= capacity) {
    throw HttpError(503, fmt::format("The server is at capacity with {} requests in flight "
                                     "(--max-num-seqs plus --max-waiting-requests); retry "
                                     "later.", num_in_flight));
  }
}

}  // namespace

// Responds 200 with an empty body, as vLLM does, once the cache is empty. The engine
// rejects the reset while requests hold blocks, and the response is then 409 so that
// callers can retry.
// NOTE: waits for the engine-core thread (about one step) on the connection's strand.
void Router::reset_prefix_cache(ResponseWriter& writer) {
  VLLM_LOG_INFO("Resetting prefix cache...");
  if (context_.engine->reset_prefix_cache()) {
    writer.send(200, "application/json", "");
    return;
  }
  const EngineStats stats = context_.engine->stats();
  VLLM_LOG_WARN("the prefix cache was not reset because {} running and {} waiting requests "
                "hold KV cache blocks",
                stats.num_running, stats.num_waiting);
  writer.send(409, "application/json",
              error_body(409,
                         fmt::format("The prefix cache was not reset because {} running "
                                     "requests hold KV cache blocks. Retry when they "
                                     "have finished.",
                                     stats.num_running)));
}

bool Router::is_authorized(const HttpRequest& request) const {
  // As in vLLM, only the /v1 routes need the key; /health, /metrics and the rest do not.
  if (context_.api_key.empty() || !request.path.starts_with("/v1")) return true;
  const auto it = request.message.find(http::field::authorization);
  if (it == request.message.end()) return false;
  return it->value() == "Bearer " + context_.api_key;
}

void Router::handle(HttpRequest request, std::shared_ptr<ResponseWriter> writer) {
  const auto method = request.message.method_string();
  const std::string description =
      fmt::format("{} {}", std::string_view(method.data(), method.size()), request.path);
  VLLM_LOG_DEBUG("{} from {}", description, request.remote);
  try {
    route(request, writer);
  } catch (const std::exception& error) {
    const ErrorResponse response = error_response(error, description);
    writer->send(response.status, "application/json", response.body);
  }
}

void Router::route(const HttpRequest& request, const std::shared_ptr<ResponseWriter>& writer) {
  if (!is_authorized(request)) {
    send_json(*writer, 401, json{{"error", "Unauthorized"}});
    return;
  }
  const http::verb method = request.message.method();
  const std::string& path = request.path;
  const bool is_get = method == http::verb::get;
  const bool is_post = method == http::verb::post;

  if (path == "/health") {
    if (!is_get) return send_detail(*writer, 405, "Method Not Allowed");
    writer->send(200, "application/json", "");
  } else if (path == "/version") {
    if (!is_get) return send_detail(*writer, 405, "Method Not Allowed");
    send_json(*writer, 200, json{{"version", context_.version}});
  } else if (path == "/v1/models") {
    if (!is_get) return send_detail(*writer, 405, "Method Not Allowed");
    send_json(*writer, 200, models_response(context_));
  } else if (path == "/metrics") {
    if (!is_get) return send_detail(*writer, 405, "Method Not Allowed");
    writer->send(200, "text/plain; version=0.0.4; charset=utf-8",
                 context_.metrics->render(context_.engine->stats()));
  } else if (path == "/v1/completions") {
    if (!is_post) return send_detail(*writer, 405, "Method Not Allowed");
    check_capacity(context_);
    handle_completions(context_, request, writer);
  } else if (path == "/v1/chat/completions") {
    if (!is_post) return send_detail(*writer, 405, "Method Not Allowed");
    check_capacity(context_);
    handle_chat_completions(context_, request, writer);
  } else if (path == "/reset_prefix_cache") {
    if (!is_post) return send_detail(*writer, 405, "Method Not Allowed");
    reset_prefix_cache(*writer);
  } else if (path == "/tokenize") {
    if (!is_post) return send_detail(*writer, 405, "Method Not Allowed");
    handle_tokenize(context_, request, *writer);
  } else if (path == "/detokenize") {
    if (!is_post) return send_detail(*writer, 405, "Method Not Allowed");
    handle_detokenize(context_, request, *writer);
  } else {
    send_detail(*writer, 404, "Not Found");
  }
}

}  // namespace vllm::server
