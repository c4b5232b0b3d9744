#include "server/openai_protocol.h"

#include <cmath>
#include <limits>
#include <set>

#include <boost/algorithm/string/case_conv.hpp>
#include <boost/algorithm/string/trim.hpp>
#include <fmt/format.h>

#include "core/errors.h"
#include "server/errors.h"
#include "tokenizer/chat_template/chat_messages.h"

namespace vllm::server {

using json = nlohmann::ordered_json;

namespace {

const json* find_field(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

std::optional<bool> get_bool(const json& body, const char* name) {
  const json* value = find_field(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) throw bad_request(fmt::format("{} must be a boolean.", name), name);
  return value->get<bool>();
}

std::optional<double> get_number(const json& body, const char* name) {
  const json* value = find_field(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) throw bad_request(fmt::format("{} must be a number.", name), name);
  return value->get<double>();
}

// Accepts integers and floats with an integral value (pydantic's lax mode does the same).
std::optional<int64_t> get_integer(const json& body, const char* name) {
  const json* value = find_field(body, name);
  if (value == nullptr) return std::nullopt;
  if (value->is_number_integer()) {
    if (value->is_number_unsigned() &&
        value->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw bad_request(fmt::format("{} is too large: {}.", name, value->dump()), name);
    }
    return value->get<int64_t>();
  }
  if (value->is_number_float()) {
    const double number = value->get<double>();
    if (std::floor(number) == number && std::abs(number) < 9e15) {
      return static_cast<int64_t>(number);
    }
  }
  throw bad_request(fmt::format("{} must be an integer, got {}.", name, value->dump()), name);
}

std::optional<int> get_int(const json& body, const char* name) {
  const std::optional<int64_t> value = get_integer(body, name);
  if (!value.has_value()) return std::nullopt;
  if (*value > std::numeric_limits<int>::max() || *value < std::numeric_limits<int>::min()) {
    throw bad_request(fmt::format("{} is out of range: {}.", name, *value), name);
  }
  return static_cast<int>(*value);
}

std::optional<std::string> get_string(const json& body, const char* name) {
  const json* value = find_field(body, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) throw bad_request(fmt::format("{} must be a string.", name), name);
  return value->get<std::string>();
}

std::vector<int32_t> to_token_ids(const json& value, const char* name) {
  std::vector<int32_t> ids;
  for (const json& item : value) {
    if (!item.is_number_integer()) {
      throw bad_request(fmt::format("{} must contain only integer token ids.", name), name);
    }
    const int64_t id = item.get<int64_t>();
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
      throw bad_request(fmt::format("Token id {} in {} is out of range.", id, name), name);
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

std::vector<std::string> get_stop(const json& body) {
  const json* value = find_field(body, "stop");
  if (value == nullptr) return {};
  if (value->is_string()) return {value->get<std::string>()};
  if (!value->is_array()) {
    throw bad_request("stop must be a string or a list of strings.", "stop");
  }
  std::vector<std::string> stop;
  for (const json& item : *value) {
    if (!item.is_string()) throw bad_request("stop must be a string or a list of strings.", "stop");
    stop.push_back(item.get<std::string>());
  }
  return stop;
}

std::map<int32_t, double> get_logit_bias(const json& body) {
  const json* value = find_field(body, "logit_bias");
  if (value == nullptr) return {};
  if (!value->is_object()) {
    throw bad_request("logit_bias must be an object mapping token ids to numbers.",
                      "logit_bias");
  }
  std::map<int32_t, double> bias;
  for (const auto& [key, number] : value->items()) {
    int64_t id = -1;
    try {
      size_t end = 0;
      id = std::stoll(key, &end);
      if (end != key.size()) id = -1;
    } catch (const std::exception&) {
      id = -1;
    }
    if (id < 0 || id > std::numeric_limits<int32_t>::max()) {
      throw bad_request(fmt::format("logit_bias key {} is not a token id.", json(key).dump()),
                        "logit_bias");
    }
    if (!number.is_number()) {
      throw bad_request(fmt::format("logit_bias value of token {} must be a number.", id),
                        "logit_bias");
    }
    bias[static_cast<int32_t>(id)] = number.get<double>();
  }
  return clamp_logit_bias(bias);
}

// Rejects fields whose feature this server lacks, when they ask for more than the default.
void reject_unsupported(const json& body, const char* name, const char* reason) {
  const json* value = find_field(body, name);
  if (value == nullptr) return;
  if (value->is_boolean() && !value->get<bool>()) return;
  if ((value->is_array() || value->is_object()) && value->empty()) return;
  throw bad_request(fmt::format("{} is not supported by this server: {}.", name, reason), name);
}

// Accepts response_format {"type": "text"}, which requests nothing beyond plain text.
void reject_structured_output(const json& body) {
  if (const json* format = find_field(body, "response_format")) {
    const bool plain_text = format->is_object() && format->value("type", "") == "text";
    if (!plain_text) {
      throw bad_request("response_format is not supported by this server: structured output "
                        "is not implemented. Only {\"type\": \"text\"} is accepted.",
                        "response_format");
    }
  }
}

// Fields shared by both endpoints; vLLM's SamplingParams validation runs afterwards.
void parse_sampling_fields(const json& body, SamplingParams& params) {
  if (auto value = get_int(body, "n")) params.n = *value;
  if (auto value = get_number(body, "temperature")) params.temperature = *value;
  if (auto value = get_number(body, "top_p")) params.top_p = *value;
  if (auto value = get_int(body, "top_k")) params.top_k = *value;
  if (auto value = get_number(body, "min_p")) params.min_p = *value;
  if (auto value = get_integer(body, "seed")) params.seed = *value;
  if (auto value = get_number(body, "presence_penalty")) params.presence_penalty = *value;
  if (auto value = get_number(body, "frequency_penalty")) params.frequency_penalty = *value;
  if (auto value = get_number(body, "repetition_penalty")) params.repetition_penalty = *value;
  if (auto value = get_int(body, "min_tokens")) params.min_tokens = *value;
  if (auto value = get_bool(body, "ignore_eos")) params.ignore_eos = *value;
  if (auto value = get_bool(body, "skip_special_tokens")) params.skip_special_tokens = *value;
  if (auto value = get_bool(body, "spaces_between_special_tokens")) {
    params.spaces_between_special_tokens = *value;
  }
  if (auto value = get_bool(body, "include_stop_str_in_output")) {
    params.include_stop_str_in_output = *value;
  }
  params.stop = get_stop(body);
  if (const json* value = find_field(body, "stop_token_ids")) {
    if (!value->is_array()) throw bad_request("stop_token_ids must be a list.", "stop_token_ids");
    params.stop_token_ids = to_token_ids(*value, "stop_token_ids");
  }
  if (const json* value = find_field(body, "allowed_token_ids")) {
    if (!value->is_array()) {
      throw bad_request("allowed_token_ids must be a list.", "allowed_token_ids");
    }
    params.allowed_token_ids = to_token_ids(*value, "allowed_token_ids");
  }
  if (const json* value = find_field(body, "bad_words")) {
    if (!value->is_array()) throw bad_request("bad_words must be a list.", "bad_words");
    for (const json& word : *value) {
      if (!word.is_string()) throw bad_request("bad_words must be strings.", "bad_words");
      params.bad_words.push_back(word.get<std::string>());
    }
  }
  params.logit_bias = get_logit_bias(body);

  if (auto best_of = get_int(body, "best_of"); best_of.has_value() && *best_of != params.n) {
    throw bad_request("best_of is not supported by this server: use n.", "best_of");
  }
  reject_unsupported(body, "use_beam_search", "beam search is not implemented");
  if (auto value = get_int(body, "prompt_logprobs")) params.prompt_logprobs = *value;
  reject_structured_output(body);
  reject_unsupported(body, "guided_json", "structured output is not implemented");
  reject_unsupported(body, "guided_regex", "structured output is not implemented");
  reject_unsupported(body, "guided_choice", "structured output is not implemented");
  reject_unsupported(body, "guided_grammar", "structured output is not implemented");
  reject_unsupported(body, "structured_outputs", "structured output is not implemented");
  reject_unsupported(body, "lora_request", "LoRA is not implemented");
}

StreamOptions parse_stream_options(const json& body) {
  StreamOptions options;
  options.stream = get_bool(body, "stream").value_or(false);
  if (const json* value = find_field(body, "stream_options")) {
    if (!value->is_object()) {
      throw bad_request("stream_options must be an object.", "stream_options");
    }
    if (!options.stream) {
      throw bad_request("Stream options can only be defined when `stream=True`.",
                        "stream_options");
    }
    options.include_usage = get_bool(*value, "include_usage").value_or(false);
    const bool continuous = get_bool(*value, "continuous_usage_stats").value_or(false);
    options.continuous_usage = options.include_usage && continuous;
  }
  return options;
}

RequestOptions parse_request_options(const json& body, const StreamOptions& stream) {
  RequestOptions options;
  if (auto value = get_int(body, "priority")) options.priority = *value;
  options.request_id = get_string(body, "request_id");
  options.user = get_string(body, "user");
  options.cache_salt = get_string(body, "cache_salt");
  if (options.cache_salt.has_value() && options.cache_salt->empty()) {
    throw bad_request("cache_salt must be a non-empty string.", "cache_salt");
  }
  if (auto value = get_int(body, "truncate_prompt_tokens")) {
    if (*value < -1 || *value == 0) {
      throw bad_request(fmt::format("truncate_prompt_tokens must be at least 1, or -1 for "
                                    "max_model_len, got {}.",
                                    *value),
                        "truncate_prompt_tokens");
    }
    options.truncate_prompt_tokens = *value;
  }
  if (stream.stream && find_field(body, "prompt_logprobs") != nullptr) {
    throw bad_request("`prompt_logprobs` are not available when `stream=True`.",
                      "prompt_logprobs");
  }
  return options;
}

PromptInput text_prompt(std::string text) {
  PromptInput prompt;
  prompt.text = std::move(text);
  return prompt;
}

PromptInput token_prompt(std::vector<int32_t> token_ids) {
  PromptInput prompt;
  prompt.token_ids = std::move(token_ids);
  return prompt;
}

std::vector<PromptInput> parse_prompts(const json& body) {
  const json* prompt = find_field(body, "prompt");
  if (prompt == nullptr) throw bad_request("prompt is required.", "prompt");
  const char* kTypeMessage =
      "prompt must be a string, a list of strings, a list of token ids or a list of lists "
      "of token ids.";
  std::vector<PromptInput> prompts;
  if (prompt->is_string()) {
    prompts.push_back(text_prompt(prompt->get<std::string>()));
  } else if (prompt->is_array()) {
    if (prompt->empty()) throw bad_request("prompt must not be empty.", "prompt");
    if ((*prompt)[0].is_number_integer()) {
      prompts.push_back(token_prompt(to_token_ids(*prompt, "prompt")));
    } else {
      for (const json& item : *prompt) {
        if (item.is_string()) {
          prompts.push_back(text_prompt(item.get<std::string>()));
        } else if (item.is_array()) {
          prompts.push_back(token_prompt(to_token_ids(item, "prompt")));
        } else {
          throw bad_request(kTypeMessage, "prompt");
        }
      }
    }
  } else {
    throw bad_request(kTypeMessage, "prompt");
  }
  return prompts;
}


// Returns whether a Content-Type header names JSON: empty (absent), application/json or
// application/*+json, in any case and with any parameters (such as charset).
bool is_json_media_type(std::string_view content_type) {
  const std::string type = boost::algorithm::to_lower_copy(
      boost::algorithm::trim_copy(std::string(content_type.substr(0, content_type.find(';')))));
  const std::string_view structured_prefix = "application/";
  return type.empty() || type == "application/json" ||
         (type.starts_with(structured_prefix) && type.ends_with("+json") &&
          type.size() > structured_prefix.size() + 5);
}

}  // namespace

json parse_json_body(const std::string& body, int max_depth, std::string_view content_type) {
  if (!is_json_media_type(content_type)) {
    throw bad_request(fmt::format("The request body has Content-Type '{}', which is not JSON. "
                                  "Send it as application/json.", content_type));
  }
  if (auto offset = find_json_depth_excess(body, max_depth)) {
    throw bad_request(fmt::format("The request body nests JSON arrays and objects deeper than "
                                  "{} levels (at byte {}); flatten it or raise "
                                  "--max-json-depth.", max_depth, *offset));
  }
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& error) {  // parse_error, or out_of_range for 1e999
    throw bad_request(fmt::format("Invalid JSON in the request body: {}", error.what()));
  }
  if (!parsed.is_object()) throw bad_request("The request body must be a JSON object.");
  return parsed;
}

CompletionRequest parse_completion_request(const json& body, const SamplingParams& defaults) {
  CompletionRequest request;
  request.params = defaults;
  request.model = get_string(body, "model");
  request.prompts = parse_prompts(body);
  request.stream = parse_stream_options(body);
  parse_sampling_fields(body, request.params);
  // Completions keep the OpenAI default of 16 tokens; null means "up to the context".
  request.params.max_tokens = body.contains("max_tokens") ? get_int(body, "max_tokens")
                                                         : std::optional<int>(16);
  request.echo = get_bool(body, "echo").value_or(false);
  request.options = parse_request_options(body, request.stream);
  if (auto logprobs = get_int(body, "logprobs")) request.params.logprobs = *logprobs;
  // Echoed prompts come with their logprobs, which vLLM computes as prompt logprobs.
  if (request.echo && request.params.logprobs.has_value() &&
      !request.params.prompt_logprobs.has_value()) {
    request.params.prompt_logprobs = request.params.logprobs;
  }
  if (find_field(body, "suffix") != nullptr) {
    throw bad_request("suffix is not currently supported", "suffix");
  }
  request.params.validate();
  return request;
}

ChatRequest parse_chat_request(const json& body, const SamplingParams& defaults) {
  ChatRequest request;
  request.params = defaults;
  request.model = get_string(body, "model");
  const json* messages = find_field(body, "messages");
  if (messages == nullptr || !messages->is_array()) {
    throw bad_request("messages is required and must be a list of messages.", "messages");
  }
  try {
    request.messages = parse_chat_messages(*messages);
  } catch (const InvalidArgument& error) {
    throw bad_request(error.what(), "messages");
  }
  request.stream = parse_stream_options(body);
  parse_sampling_fields(body, request.params);

  // max_completion_tokens replaces the deprecated max_tokens; neither means "up to the
  // context", filled in by check_context_length.
  request.params.max_tokens = get_int(body, "max_completion_tokens");
  if (!request.params.max_tokens.has_value()) {
    request.params.max_tokens = get_int(body, "max_tokens");
  }

  request.logprobs = get_bool(body, "logprobs").value_or(false);
  if (auto top_logprobs = get_int(body, "top_logprobs")) {
    if (!request.logprobs) {
      throw bad_request("when using `top_logprobs`, `logprobs` must be set to true.",
                        "top_logprobs");
    }
    if (*top_logprobs < 0) {
      throw bad_request(fmt::format("`top_logprobs` must be a positive value, got {}.",
                                    *top_logprobs),
                        "top_logprobs");
    }
    request.top_logprobs = *top_logprobs;
  }
  if (request.logprobs) request.params.logprobs = request.top_logprobs;

  request.add_generation_prompt = get_bool(body, "add_generation_prompt").value_or(true);
  request.continue_final_message = get_bool(body, "continue_final_message").value_or(false);
  if (request.add_generation_prompt && request.continue_final_message) {
    throw bad_request(
        "Cannot set both `continue_final_message` and `add_generation_prompt` to True.");
  }
  request.add_special_tokens = get_bool(body, "add_special_tokens").value_or(false);
  request.chat_template = get_string(body, "chat_template");
  request.echo = get_bool(body, "echo").value_or(false);
  request.options = parse_request_options(body, request.stream);
  if (const json* kwargs = find_field(body, "chat_template_kwargs")) {
    if (!kwargs->is_object()) {
      throw bad_request("chat_template_kwargs must be an object.", "chat_template_kwargs");
    }
    request.chat_template_kwargs = *kwargs;
  }
  reject_unsupported(body, "tools", "tool calling is not implemented");
  if (auto tool_choice = get_string(body, "tool_choice");
      tool_choice.has_value() && *tool_choice != "none" && *tool_choice != "auto") {
    throw bad_request("tool_choice is not supported by this server: tool calling is not "
                      "implemented.",
                      "tool_choice");
  }
  request.params.validate();
  return request;
}

json overridden_sampling_defaults(const SamplingParams& defaults) {
  const SamplingParams vllm_defaults;
  json overridden = json::object();
  if (defaults.repetition_penalty != vllm_defaults.repetition_penalty) {
    overridden["repetition_penalty"] = defaults.repetition_penalty;
  }
  if (defaults.temperature != vllm_defaults.temperature) {
    overridden["temperature"] = defaults.temperature;
  }
  if (defaults.top_k != vllm_defaults.top_k) overridden["top_k"] = defaults.top_k;
  if (defaults.top_p != vllm_defaults.top_p) overridden["top_p"] = defaults.top_p;
  if (defaults.min_p != vllm_defaults.min_p) overridden["min_p"] = defaults.min_p;
  if (defaults.max_tokens != vllm_defaults.max_tokens && defaults.max_tokens.has_value()) {
    overridden["max_tokens"] = *defaults.max_tokens;
  }
  return overridden;
}

void cap_max_tokens(SamplingParams& params, const SamplingParams& defaults) {
  if (defaults.max_tokens == SamplingParams{}.max_tokens || !defaults.max_tokens) return;
  if (!params.max_tokens.has_value() || *params.max_tokens > *defaults.max_tokens) {
    params.max_tokens = defaults.max_tokens;
  }
}

void check_context_length(SamplingParams& params, int64_t num_prompt_tokens,
                          int64_t max_model_len) {
  if (num_prompt_tokens >= max_model_len) {
    throw bad_request(fmt::format(
        "This model's maximum context length is {} tokens. However, your request has {} "
        "input tokens. Please reduce the length of the input messages.",
        max_model_len, num_prompt_tokens));
  }
  const int64_t room = max_model_len - num_prompt_tokens;
  if (!params.max_tokens.has_value()) {
    params.max_tokens = static_cast<int>(room);
    return;
  }
  if (*params.max_tokens > room) {
    throw bad_request(
        fmt::format("'max_tokens' or 'max_completion_tokens' is too large: {}. This model's "
                    "maximum context length is {} tokens and your request has {} input "
                    "tokens ({} > {} - {}).",
                    *params.max_tokens, max_model_len, num_prompt_tokens, *params.max_tokens,
                    max_model_len, num_prompt_tokens),
        "max_tokens");
  }
}

void truncate_prompt(std::vector<int32_t>& token_ids,
                     const std::optional<int>& truncate_prompt_tokens, int64_t max_model_len) {
  if (!truncate_prompt_tokens.has_value()) return;
  const int64_t keep = *truncate_prompt_tokens == -1 ? max_model_len : *truncate_prompt_tokens;
  if (keep > max_model_len) {
    throw bad_request(fmt::format("truncate_prompt_tokens value ({}) is greater than "
                                  "max_model_len ({}). Please, select a smaller truncation "
                                  "size.",
                                  keep, max_model_len),
                      "truncate_prompt_tokens");
  }
  if (static_cast<int64_t>(token_ids.size()) > keep) {
    token_ids.erase(token_ids.begin(), token_ids.end() - keep);
  }
}

std::vector<std::string> unknown_fields(const json& body, bool chat) {
  static const std::set<std::string> kCommon = {
      "model", "n", "temperature", "top_p", "top_k", "min_p", "seed", "presence_penalty",
      "frequency_penalty", "repetition_penalty", "min_tokens", "ignore_eos",
      "skip_special_tokens", "spaces_between_special_tokens", "include_stop_str_in_output",
      "stop", "stop_token_ids", "allowed_token_ids", "bad_words", "logit_bias", "best_of",
      "use_beam_search", "prompt_logprobs", "truncate_prompt_tokens", "response_format",
      "guided_json", "guided_regex", "guided_choice", "guided_grammar", "structured_outputs",
      "lora_request", "stream", "stream_options", "max_tokens", "logprobs", "user",
      "request_id", "priority", "cache_salt"};
  static const std::set<std::string> kCompletion = {"prompt", "echo", "suffix"};
  static const std::set<std::string> kChat = {
      "messages", "max_completion_tokens", "top_logprobs", "add_generation_prompt",
      "continue_final_message", "add_special_tokens", "chat_template", "chat_template_kwargs",
      "tools", "tool_choice", "parallel_tool_calls", "echo"};
  std::vector<std::string> unknown;
  for (const auto& [key, value] : body.items()) {
    if (kCommon.count(key) == 0 && (chat ? kChat : kCompletion).count(key) == 0) {
      unknown.push_back(key);
    }
  }
  return unknown;
}

}  // namespace vllm::server
