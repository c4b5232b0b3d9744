#include "server/api_server.h"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
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

// Polls the engine client after a shutdown signal and stops the server once no request is
// in flight, aborting the remaining ones when the grace period ends. Runs on the event
// loop's timer, one callback at a time.
class ShutdownDrain {
 public:
  ShutdownDrain(HttpServer& server, EngineClient& client, double timeout_s)
      : server_(server),
        client_(client),
        timer_(server.io_context()),
        timeout_(std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(timeout_s))) {}

  void start() {
    deadline_ = Clock::now() + timeout_;
    poll();
  }

 private:
  using Clock = std::chrono::steady_clock;
  // Time left to write the final chunks after the last request finished, and time that
  // aborted requests have to deliver their final output.
  static constexpr std::chrono::milliseconds kFlushTime{200};
  static constexpr std::chrono::milliseconds kAbortTime{2000};
  static constexpr std::chrono::milliseconds kPollInterval{50};

  void poll() {
    const auto now = Clock::now();
    if (client_.num_in_flight() == 0) {
      VLLM_LOG_INFO("no requests in flight, shutting down");
      wait_then(kFlushTime, [this] { server_.stop(); });
      return;
    }
    if (!aborted_ && now >= deadline_) {
      const std::vector<std::string> ids = client_.in_flight_ids();
      VLLM_LOG_WARN("shutdown timeout reached, aborting {} in-flight requests", ids.size());
      for (const std::string& id : ids) client_.abort(id);
      aborted_ = true;
    } else if (aborted_ && now >= deadline_ + kAbortTime) {
      VLLM_LOG_WARN("{} aborted requests did not finish, shutting down anyway",
                    client_.num_in_flight());
      server_.stop();
      return;
    }
    wait_then(kPollInterval, [this] { poll(); });
  }

  void wait_then(std::chrono::milliseconds delay, std::function<void()> next) {
    timer_.expires_after(delay);
    timer_.async_wait([next = std::move(next)](const boost::system::error_code& ec) {
      if (!ec) next();
    });
  }

  HttpServer& server_;
  EngineClient& client_;
  boost::asio::steady_timer timer_;
  Clock::duration timeout_;
  Clock::time_point deadline_;
  bool aborted_ = false;
};

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

  // Graceful shutdown: the first SIGTERM or SIGINT closes the listening socket and lets
  // in-flight requests finish. After --shutdown-timeout seconds the rest are aborted, so
  // their clients get finish_reason "abort". A second signal stops at once.
  boost::asio::signal_set signals(server.io_context(), SIGINT, SIGTERM);
  ShutdownDrain drain(server, client, args.shutdown_timeout_s);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    VLLM_LOG_INFO("received signal {}: no longer accepting connections; waiting up to {} s "
                  "for {} in-flight requests",
                  signal_number, args.shutdown_timeout_s, client.num_in_flight());
    server.stop_accepting();
    drain.start();
    signals.async_wait([&server](const boost::system::error_code& ec2, int signal_number2) {
      if (ec2) return;
      VLLM_LOG_WARN("received signal {} again, stopping now", signal_number2);
      server.stop();
    });
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
