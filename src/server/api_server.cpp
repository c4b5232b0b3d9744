#include "server/api_server.h"

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/signal_set.hpp>
#include <fmt/format.h>

#include "core/errors.h"
#include "core/logging.h"
#include "server/engine_client.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/router.h"
#include "server/server_context.h"
#include "tokenizer/tokenizer.h"

namespace vllm::server {

std::string load_chat_template(const std::string& path_or_template) {
  std::ifstream file(path_or_template);
  if (file.is_open() && std::filesystem::is_regular_file(path_or_template)) {
    std::stringstream contents;
    contents << file.rdbuf();
    return contents.str();
  }
  const bool looks_like_jinja = path_or_template.find("{{") != std::string::npos ||
                                path_or_template.find("{%") != std::string::npos ||
                                path_or_template.find('\n') != std::string::npos;
  if (!looks_like_jinja) {
    throw InvalidArgument(fmt::format(
        "The supplied chat template ({}) looks like a file path, but it failed to be opened. "
        "Pass a readable file or the template text itself.",
        path_or_template));
  }
  return path_or_template;
}

namespace {

std::string default_model_name(const ServerArgs& args) {
  if (!args.served_model_name.empty()) return args.served_model_name;
  if (!args.engine.model.empty()) return args.engine.model;
  // The short name that resolve_model_path maps to the default model, as clients pass it.
  return "SmolLM2-135M-Instruct";
}

}  // namespace

int run_api_server(const ServerArgs& args) {
  // Parse the template before loading the model, so that a bad flag fails fast.
  std::optional<ChatTemplate> flag_template;
  if (!args.chat_template.empty()) {
    flag_template.emplace(load_chat_template(args.chat_template));
  }

  LLMEngine engine(args.engine);
  Metrics metrics(default_model_name(args));
  EngineClient client(engine, metrics);

  ServerContext context;
  context.model_name = default_model_name(args);
  context.model_root = args.engine.model.empty() ? resolve_model_path("") : args.engine.model;
  context.version = args.version;
  context.api_key = args.api_key;
  context.enable_prompt_tokens_details = args.enable_prompt_tokens_details;
  context.max_model_len = engine.args().max_model_len;
  context.max_json_depth = args.limits.max_json_depth;
  context.max_waiting_requests = args.limits.max_waiting_requests;
  context.created = unix_time_seconds();
  context.engine = &engine;
  context.client = &client;
  context.metrics = &metrics;
  if (flag_template.has_value()) {
    context.chat_template = std::move(flag_template);
  } else if (!engine.tokenizer().chat_template().empty()) {
    context.chat_template.emplace(engine.tokenizer().chat_template());
  } else {
    VLLM_LOG_WARN("the model has no chat template and --chat-template is not set, so "
                  "/v1/chat/completions will reject requests");
  }

  if (const auto overridden = overridden_sampling_defaults(engine.default_sampling_params());
      !overridden.empty()) {
    VLLM_LOG_INFO("Default sampling parameters have been overridden by the model's Hugging Face "
                  "generation config recommended from the model creator: {}. If this is not "
                  "intended, relaunch with `--generation-config vllm`.",
                  overridden.dump());
  }

  Router router(context);
  HttpServer server(args.host, args.port, args.limits,
                    [&router](HttpRequest request, std::shared_ptr<ResponseWriter> writer) {
                      router.handle(std::move(request), std::move(writer));
                    });

  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  signals.async_wait([&server](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    VLLM_LOG_INFO("received signal {}, shutting down", signal_number);
    server.stop();
  });

  VLLM_LOG_INFO("Available routes: GET /health, GET /version, GET /v1/models, GET /metrics, "
                "POST /v1/completions, POST /v1/chat/completions, POST /tokenize, "
                "POST /detokenize, POST /reset_prefix_cache");
  VLLM_LOG_INFO("Starting vLLM API server on http://{}:{}", args.host, server.port());
  server.run(std::max(1, args.num_io_threads));
  client.stop();

  VLLM_LOG_INFO("server stopped with {} requests in flight", client.num_in_flight());
  return 0;
}

}  // namespace vllm::server
