// POST /v1/completions
#include <fmt/format.h>

#include "core/logging.h"
#include "server/errors.h"
#include "server/generation_job.h"
#include "server/server_context.h"
#include "tokenizer/tokenizer.h"

namespace vllm::server {

// One warning per request, worded as vLLM's, which prints the names as a Python set.
void log_unknown_fields(const nlohmann::ordered_json& body, bool chat,
                        const std::string& request_id) {
  const std::vector<std::string> unknown = unknown_fields(body, chat);
  if (unknown.empty()) return;
  std::vector<std::string> quoted;
  for (const std::string& name : unknown) quoted.push_back("'" + name + "'");
  VLLM_LOG_WARN("The following fields were present in the request but ignored: {{{}}} "
                "(request {})",
                fmt::join(quoted, ", "), request_id);
}

std::string base_request_id(const HttpRequest& request,
                            const std::optional<std::string>& body_request_id) {
  const auto header = request.message.find("X-Request-Id");
  if (header != request.message.end() && !header->value().empty()) {
    return std::string(header->value());
  }
  return body_request_id.value_or(random_uuid());
}

void handle_completions(ServerContext& context, const HttpRequest& request,
                        std::shared_ptr<ResponseWriter> writer) {
  const nlohmann::ordered_json body = parse_json_body(
      request.message.body(), context.max_json_depth, content_type_of(request));
  // Fields the request leaves out take the model's generation-config defaults.
  const SamplingParams defaults = context.engine->default_sampling_params();
  CompletionRequest completion = parse_completion_request(body, defaults);
  check_model(context, completion.model);
  check_num_sequences(context, static_cast<int64_t>(completion.prompts.size()),
                      completion.params.n);

  GenerationSpec spec;
  spec.response_id = "cmpl-" + base_request_id(request, completion.options.request_id);
  log_unknown_fields(body, /*chat=*/false, spec.response_id);
  spec.model_name = context.model_name;
  spec.client = request.remote;
  spec.path = request.path;
  spec.created = unix_time_seconds();
  spec.stream = completion.stream;
  spec.options = completion.options;
  spec.echo_prompt_logprobs = completion.echo && completion.params.logprobs.has_value();
  spec.enable_prompt_tokens_details = context.enable_prompt_tokens_details;

  const Tokenizer& tokenizer = context.engine->tokenizer();
  const std::optional<int> requested_max_tokens = completion.params.max_tokens;
  for (const PromptInput& prompt : completion.prompts) {
    std::vector<int32_t> ids = prompt.text.has_value()
                                   ? tokenizer.encode(*prompt.text, /*add_special_tokens=*/true)
                                   : prompt.token_ids;
    const size_t num_tokens_before = ids.size();
    truncate_prompt(ids, completion.options.truncate_prompt_tokens, context.max_model_len);
    const bool truncated = ids.size() != num_tokens_before;
    // With max_tokens null, the shortest room of all prompts applies to every prompt.
    SamplingParams checked = completion.params;
    checked.max_tokens = requested_max_tokens;
    check_context_length(checked, static_cast<int64_t>(ids.size()), context.max_model_len);
    if (!completion.params.max_tokens.has_value() ||
        *checked.max_tokens < *completion.params.max_tokens) {
      completion.params.max_tokens = checked.max_tokens;
    }
    if (completion.echo) {
      spec.echo_texts.push_back(prompt.text.has_value() && !truncated
                                    ? *prompt.text
                                    : tokenizer.decode(ids, false));
    }
    spec.prompt_token_ids.push_back(std::move(ids));
  }
  cap_max_tokens(completion.params, defaults);
  spec.params = completion.params;
  GenerationJob::start(std::move(spec), *context.client, tokenizer, std::move(writer));
}

}  // namespace vllm::server
