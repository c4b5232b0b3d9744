// Parsing and validation of OpenAI-compatible request bodies into engine inputs, with
// vLLM's field names, defaults and rules. Throws HttpError (400) naming the invalid field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json_depth.h"
#include "vllm/engine.h"
#include "vllm/sampling_params.h"

namespace vllm::server {

struct StreamOptions {
  bool stream = false;
  bool include_usage = false;   // stream_options.include_usage
  // stream_options.continuous_usage_stats, kept only together with include_usage as vLLM
  // does: usage on every chunk.
  bool continuous_usage = false;
};

// Fields that both endpoints share and that are not sampling parameters.
struct RequestOptions {
  int priority = 0;                          // lower is served first (priority policy)
  std::optional<std::string> request_id;     // the caller's id, used in the response id
  std::optional<std::string> user;           // accepted without effect, as in vLLM
  std::optional<std::string> cache_salt;     // isolates this request's prefix-cache blocks
  // Keep only the last k prompt tokens; -1 keeps the last max_model_len tokens.
  std::optional<int> truncate_prompt_tokens;
};

// POST /v1/completions
struct CompletionRequest {
  std::optional<std::string> model;
  std::vector<PromptInput> prompts;   // a string, a list of strings, token ids or lists of them
  SamplingParams params;
  StreamOptions stream;
  RequestOptions options;
  bool echo = false;
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
  RequestOptions options;
  // vLLM's chat echo: the reply starts with the last message's content when that message
  // has the assistant role.
  bool echo = false;
};

// Parses a request body; throws HttpError(400) for invalid JSON, a non-object body, or
// nesting deeper than `max_depth` arrays and objects (checked before parsing, because the
// parser recurses once per level). `content_type` is the request's Content-Type header,
// empty when absent. Only application/json, application/*+json or no header pass, because
// FastAPI (since 0.65.3), which serves vLLM, reads a body as JSON only then.
nlohmann::ordered_json parse_json_body(const std::string& body,
                                       int max_depth = kDefaultMaxJsonDepth,
                                       std::string_view content_type = {});

// `defaults` (LLMEngine::default_sampling_params()) gives the sampling values of the fields
// a request leaves out, as vLLM's serving layer applies the generation config.
CompletionRequest parse_completion_request(const nlohmann::ordered_json& body,
                                           const SamplingParams& defaults = {});
ChatRequest parse_chat_request(const nlohmann::ordered_json& body,
                               const SamplingParams& defaults = {});

// The values of `defaults` that differ from SamplingParams{} among the fields a generation
// config can set (vLLM's get_diff_sampling_param), as {"temperature": 0.0, ...}; empty
// when the model's generation config sets none.
// NOTE: a max_new_tokens equal to SamplingParams' default of 16 does not show here.
nlohmann::ordered_json overridden_sampling_defaults(const SamplingParams& defaults);

// Caps the filled-in max_tokens at the generation config's max_new_tokens when it sets one,
// as vLLM takes the smallest of the request's value, the room left in the context and the
// config's value. Call after check_context_length.
void cap_max_tokens(SamplingParams& params, const SamplingParams& defaults);

// Fills the missing max_tokens and checks the prompt length against max_model_len with
// vLLM's messages; throws HttpError(400).
void check_context_length(SamplingParams& params, int64_t num_prompt_tokens,
                          int64_t max_model_len);

// Applies truncate_prompt_tokens to `token_ids` (keeps the last tokens); throws
// HttpError(400) when the value exceeds max_model_len, with vLLM's message.
void truncate_prompt(std::vector<int32_t>& token_ids,
                     const std::optional<int>& truncate_prompt_tokens, int64_t max_model_len);

// Names of the top-level fields of `body` that the endpoint does not know, for the log.
std::vector<std::string> unknown_fields(const nlohmann::ordered_json& body, bool chat);

}  // namespace vllm::server
