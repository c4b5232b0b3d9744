// POST /v1/chat/completions
#include <fmt/format.h>

#include "core/logging.h"
#include "server/errors.h"
#include "server/generation_job.h"
#include "server/server_context.h"
#include "tokenizer/tokenizer.h"

namespace vllm::server {

namespace {

// The special tokens HF passes to every chat template.
nlohmann::ordered_json template_context(const Tokenizer& tokenizer, const ChatRequest& request) {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  if (auto bos = tokenizer.bos_token_id()) context["bos_token"] = tokenizer.id_to_token(*bos);
  if (auto eos = tokenizer.eos_token_id()) context["eos_token"] = tokenizer.id_to_token(*eos);
  for (const auto& [key, value] : request.chat_template_kwargs.items()) context[key] = value;
  return context;
}

// With continue_final_message, the output continues the last message: the rendered text
// ends right after that message's content, as vLLM cuts it.
std::string cut_after_final_message(std::string prompt, const ChatRequest& request) {
  const nlohmann::ordered_json& last = request.messages.back();
  if (!last.contains("content") || !last["content"].is_string()) return prompt;
  const std::string content = last["content"].get<std::string>();
  const size_t position = prompt.rfind(content);
  if (position == std::string::npos) {
    throw bad_request("continue_final_message is set but the final message's content does "
                      "not appear in the rendered chat template.");
  }
  prompt.resize(position + content.size());
  return prompt;
}

}  // namespace

std::string render_chat_prompt(const ServerContext& context, const ChatRequest& request) {
  const Tokenizer& tokenizer = context.engine->tokenizer();
  const nlohmann::ordered_json extra = template_context(tokenizer, request);
  std::string prompt;
  if (request.chat_template.has_value()) {
    prompt = ChatTemplate(*request.chat_template)
                 .render(request.messages, request.add_generation_prompt, extra);
  } else if (context.chat_template.has_value()) {
    prompt = context.chat_template->render(request.messages, request.add_generation_prompt, extra);
  } else {
    throw bad_request(
        "As of transformers v4.44, default chat template is no longer allowed, so you must "
        "provide a chat template if the tokenizer does not define one.");
  }
  if (request.continue_final_message && !request.messages.empty()) {
    prompt = cut_after_final_message(std::move(prompt), request);
  }
  return prompt;
}

void handle_chat_completions(ServerContext& context, const HttpRequest& request,
                             std::shared_ptr<ResponseWriter> writer) {
  const nlohmann::ordered_json body = parse_json_body(
      request.message.body(), context.max_json_depth, content_type_of(request));
  // Fields the request leaves out take the model's generation-config defaults.
  const SamplingParams defaults = context.engine->default_sampling_params();
  ChatRequest chat = parse_chat_request(body, defaults);
  check_model(context, chat.model);
  check_num_sequences(context, 1, chat.params.n);

  GenerationSpec spec;
  spec.chat = true;
  spec.response_id = "chatcmpl-" + base_request_id(request, chat.options.request_id);
  log_unknown_fields(body, /*chat=*/true, spec.response_id);
  spec.model_name = context.model_name;
  spec.client = request.remote;
  spec.path = request.path;
  spec.created = unix_time_seconds();
  spec.stream = chat.stream;
  spec.options = chat.options;
  spec.num_chat_top_logprobs = chat.logprobs ? chat.top_logprobs : -1;
  spec.enable_prompt_tokens_details = context.enable_prompt_tokens_details;
  if (chat.echo && !chat.messages.empty()) {
    const nlohmann::ordered_json& last = chat.messages.back();
    if (last.value("role", "") == "assistant" && last.contains("content") &&
        last["content"].is_string()) {
      spec.chat_echo_text = last["content"].get<std::string>();
    }
  }

  const Tokenizer& tokenizer = context.engine->tokenizer();
  const std::string prompt = render_chat_prompt(context, chat);
  std::vector<int32_t> ids = tokenizer.encode(prompt, chat.add_special_tokens);
  truncate_prompt(ids, chat.options.truncate_prompt_tokens, context.max_model_len);
  check_context_length(chat.params, static_cast<int64_t>(ids.size()), context.max_model_len);
  cap_max_tokens(chat.params, defaults);
  spec.prompt_token_ids.push_back(std::move(ids));
  spec.params = chat.params;
  GenerationJob::start(std::move(spec), *context.client, tokenizer, std::move(writer));
}

}  // namespace vllm::server
