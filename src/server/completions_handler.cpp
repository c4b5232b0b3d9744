// POST /v1/completions
#include <fmt/format.h>

#include "core/logging.h"
#include "server/errors.h"
#include "server/generation_job.h"
#include "server/server_context.h"
#include "tokenizer/tokenizer.h"

namespace vllm::server {

void log_unknown_fields(const nlohmann::ordered_json& body, bool chat,
                        const std::string& request_id) {
  const std::vector<std::string> unknown = unknown_fields(body, chat);
  if (!unknown.empty()) {
    VLLM_LOG_WARN("The following fields were present in request {} but ignored: {}",
                  request_id, fmt::join(unknown, ", "));
  }
}

void handle_completions(ServerContext& context, const HttpRequest& request,
                        std::shared_ptr<ResponseWriter> writer) {
  const nlohmann::ordered_json body = parse_json_body(request.message.body());
  CompletionRequest completion = parse_completion_request(body);
  check_model(context, completion.model);

  GenerationSpec spec;
  spec.response_id = "cmpl-" + random_uuid();
  log_unknown_fields(body, /*chat=*/false, spec.response_id);
  spec.model_name = context.model_name;
  spec.created = unix_time_seconds();
  spec.stream = completion.stream;
  spec.cache_salt = completion.cache_salt;
  if (completion.echo && completion.params.logprobs.has_value()) {
    throw bad_request("echo together with logprobs is not supported by this server: it "
                      "needs prompt logprobs.",
                      "echo");
  }

  const Tokenizer& tokenizer = context.engine->tokenizer();
  const std::optional<int> requested_max_tokens = completion.params.max_tokens;
  for (const PromptInput& prompt : completion.prompts) {
    std::vector<int32_t> ids = prompt.text.has_value()
                                   ? tokenizer.encode(*prompt.text, /*add_special_tokens=*/true)
                                   : prompt.token_ids;
    // With max_tokens null, the shortest room of all prompts applies to every prompt.
    SamplingParams checked = completion.params;
    checked.max_tokens = requested_max_tokens;
    check_context_length(checked, static_cast<int64_t>(ids.size()), context.max_model_len);
    if (!completion.params.max_tokens.has_value() ||
        *checked.max_tokens < *completion.params.max_tokens) {
      completion.params.max_tokens = checked.max_tokens;
    }
    if (completion.echo) {
      spec.echo_texts.push_back(prompt.text.has_value() ? *prompt.text
                                                        : tokenizer.decode(ids, false));
    }
    spec.prompt_token_ids.push_back(std::move(ids));
  }
  spec.params = completion.params;
  GenerationJob::start(std::move(spec), *context.client, tokenizer, std::move(writer));
}

}  // namespace vllm::server
