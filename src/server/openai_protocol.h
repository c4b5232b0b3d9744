// Parsing and validation of OpenAI-compatible request bodies into engine inputs, with
// vLLM's field names, defaults and rules. Throws HttpError (400) naming the invalid field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "vllm/engine.h"
#include "vllm/sampling_params.h"

namespace vllm::server {

struct StreamOptions {
  bool stream = false;
  bool include_usage = false;   // stream_options.include_usage
};

// POST /v1/completions
struct CompletionRequest {
  std::optional<std::string> model;
  std::vector<PromptInput> prompts;   // a string, a list of strings, token ids or lists of them
  SamplingParams params;
  StreamOptions stream;
  bool echo = false;
  std::optional<std::string> cache_salt;   // isolates this request's prefix-cache blocks
};

// POST /v1/chat/completions
struct ChatRequest {
  std::optional<std::string> model;
  nlohmann::ordered_json messages;   // text content only, parts joined
  SamplingParams params;
  StreamOptions stream;
  bool logprobs = false;
  int top_logprobs = 0;
  bool add_generation_prompt = true;
  bool continue_final_message = false;
  bool add_special_tokens = false;   // the template adds BOS itself
  std::optional<std::string> chat_template;   // a per-request template
  nlohmann::ordered_json chat_template_kwargs = nlohmann::ordered_json::object();
  std::optional<std::string> cache_salt;   // isolates this request's prefix-cache blocks
};

// Parses a request body; throws HttpError(400) for invalid JSON or a non-object body.
nlohmann::ordered_json parse_json_body(const std::string& body);

CompletionRequest parse_completion_request(const nlohmann::ordered_json& body);
ChatRequest parse_chat_request(const nlohmann::ordered_json& body);

// Fills the missing max_tokens and checks the prompt length against max_model_len with
// vLLM's messages; throws HttpError(400).
void check_context_length(SamplingParams& params, int64_t num_prompt_tokens,
                          int64_t max_model_len);

// Names of the top-level fields of `body` that the endpoint does not know, for the log.
std::vector<std::string> unknown_fields(const nlohmann::ordered_json& body, bool chat);

}  // namespace vllm::server
