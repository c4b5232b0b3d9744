// Request parsing of the OpenAI-compatible server: field mapping, defaults and the 400s.
#include <gtest/gtest.h>

#include <functional>

#include "core/errors.h"
#include "server/errors.h"
#include "server/openai_protocol.h"

namespace vllm::server {
namespace {

using json = nlohmann::ordered_json;

int status_of(const std::function<void()>& parse) {
  try {
    parse();
  } catch (const HttpError& error) {
    return error.status();
  } catch (const InvalidArgument&) {
    return 400;
  }
  return 200;
}

TEST(OpenAIProtocol, CompletionMapsSamplingFields) {
  const CompletionRequest request = parse_completion_request(json::parse(R"({
      "model": "m", "prompt": "hi", "max_tokens": 7, "temperature": 0.5, "top_p": 0.9,
      "top_k": 5, "min_p": 0.1, "n": 2, "seed": 3, "stop_token_ids": [1, 2],
      "ignore_eos": true, "min_tokens": 1, "logprobs": 2, "user": "u"})"));
  EXPECT_EQ(request.model, "m");
  ASSERT_EQ(request.prompts.size(), 1u);
  EXPECT_EQ(request.prompts[0].text, "hi");
  EXPECT_EQ(request.params.max_tokens, 7);
  EXPECT_DOUBLE_EQ(request.params.temperature, 0.5);
  EXPECT_DOUBLE_EQ(request.params.top_p, 0.9);
  EXPECT_EQ(request.params.top_k, 5);
  EXPECT_DOUBLE_EQ(request.params.min_p, 0.1);
  EXPECT_EQ(request.params.n, 2);
  EXPECT_EQ(request.params.seed, 3);
  EXPECT_EQ(request.params.stop_token_ids, (std::vector<int32_t>{1, 2}));
  EXPECT_TRUE(request.params.ignore_eos);
  EXPECT_EQ(request.params.min_tokens, 1);
  EXPECT_EQ(request.params.logprobs, 2);
}

TEST(OpenAIProtocol, CompletionDefaultMaxTokens) {
  const CompletionRequest request = parse_completion_request(json::parse(R"({"prompt": "hi"})"));
  EXPECT_EQ(request.params.max_tokens, 16);
  const CompletionRequest unbounded =
      parse_completion_request(json::parse(R"({"prompt": "hi", "max_tokens": null})"));
  EXPECT_FALSE(unbounded.params.max_tokens.has_value());
}

TEST(OpenAIProtocol, CompletionPromptForms) {
  const CompletionRequest ids = parse_completion_request(json::parse(R"({"prompt": [1, 2]})"));
  ASSERT_EQ(ids.prompts.size(), 1u);
  EXPECT_EQ(ids.prompts[0].token_ids, (std::vector<int32_t>{1, 2}));
  const CompletionRequest lists =
      parse_completion_request(json::parse(R"({"prompt": [[1], "a", [3, 4]]})"));
  ASSERT_EQ(lists.prompts.size(), 3u);
  EXPECT_EQ(lists.prompts[1].text, "a");
  EXPECT_EQ(lists.prompts[2].token_ids, (std::vector<int32_t>{3, 4}));
}

TEST(OpenAIProtocol, InvalidValuesAre400) {
  const char* bodies[] = {
      R"({"prompt": "hi", "temperature": -1})",
      R"({"prompt": "hi", "temperature": "warm"})",
      R"({"prompt": "hi", "max_tokens": 0})",
      R"({"prompt": "hi", "max_tokens": 1.5})",
      R"({"prompt": "hi", "n": 0})",
      R"({"prompt": "hi", "top_p": 0})",
      R"({"prompt": 5})",
      R"({"prompt": []})",
      R"({"prompt": [1, "a"]})",
      R"({})",
      R"({"prompt": "hi", "stream_options": {"include_usage": true}})",
      R"({"prompt": "hi", "use_beam_search": true})",
  };
  for (const char* body : bodies) {
    EXPECT_EQ(status_of([&] { parse_completion_request(json::parse(body)); }), 400) << body;
  }
}

TEST(OpenAIProtocol, InvalidJsonIs400) {
  EXPECT_EQ(status_of([] { parse_json_body("{nope"); }), 400);
  EXPECT_EQ(status_of([] { parse_json_body("[1]"); }), 400);
}

TEST(OpenAIProtocol, ChatJoinsTextParts) {
  const ChatRequest request = parse_chat_request(json::parse(R"({
      "messages": [{"role": "user", "content": [{"type": "text", "text": "a"},
                                                {"type": "text", "text": "b"}]}],
      "max_completion_tokens": 5, "logprobs": true, "top_logprobs": 3})"));
  EXPECT_EQ(request.messages[0]["content"], "a\nb");
  EXPECT_EQ(request.params.max_tokens, 5);
  EXPECT_EQ(request.params.logprobs, 3);
  EXPECT_TRUE(request.add_generation_prompt);
}

TEST(OpenAIProtocol, ChatMaxTokensDefaultsToContext) {
  ChatRequest request =
      parse_chat_request(json::parse(R"({"messages": [{"role": "user", "content": "x"}]})"));
  EXPECT_FALSE(request.params.max_tokens.has_value());
  check_context_length(request.params, 10, 512);
  EXPECT_EQ(request.params.max_tokens, 502);
}

TEST(OpenAIProtocol, ChatRejectsImageParts) {
  const char* body = R"({"messages": [{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": "x"}}]}]})";
  EXPECT_EQ(status_of([&] { parse_chat_request(json::parse(body)); }), 400);
}

TEST(OpenAIProtocol, TopLogprobsNeedsLogprobs) {
  const char* body = R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})";
  EXPECT_EQ(status_of([&] { parse_chat_request(json::parse(body)); }), 400);
}

TEST(OpenAIProtocol, ContextLengthChecks) {
  SamplingParams params;
  params.max_tokens = 10;
  EXPECT_EQ(status_of([&] { check_context_length(params, 512, 512); }), 400);
  EXPECT_EQ(status_of([&] { check_context_length(params, 505, 512); }), 400);
  EXPECT_EQ(status_of([&] { check_context_length(params, 502, 512); }), 200);
}

TEST(OpenAIProtocol, ErrorBodyShape) {
  const json body = json::parse(error_body(400, "bad", "temperature"));
  EXPECT_EQ(body["error"]["message"], "bad");
  EXPECT_EQ(body["error"]["type"], "BadRequestError");
  EXPECT_EQ(body["error"]["param"], "temperature");
  EXPECT_EQ(body["error"]["code"], 400);
}

TEST(OpenAIProtocol, UnknownFieldsListed) {
  const json body = json::parse(R"({"prompt": "x", "frobnicate": 1, "user": "u"})");
  EXPECT_EQ(unknown_fields(body, false), (std::vector<std::string>{"frobnicate"}));
}

TEST(OpenAIProtocol, RequestOptionsParsed) {
  const CompletionRequest request = parse_completion_request(json::parse(R"({
      "prompt": "hi", "priority": -3, "request_id": "abc", "user": "u",
      "cache_salt": "salt", "truncate_prompt_tokens": 5})"));
  EXPECT_EQ(request.options.priority, -3);
  EXPECT_EQ(request.options.request_id, "abc");
  EXPECT_EQ(request.options.user, "u");
  EXPECT_EQ(request.options.cache_salt, "salt");
  EXPECT_EQ(request.options.truncate_prompt_tokens, 5);
}

TEST(OpenAIProtocol, InvalidRequestOptions) {
  const char* bodies[] = {
      R"({"prompt": "hi", "priority": "high"})",
      R"({"prompt": "hi", "priority": 1.5})",
      R"({"prompt": "hi", "truncate_prompt_tokens": 0})",
      R"({"prompt": "hi", "truncate_prompt_tokens": -2})",
      R"({"prompt": "hi", "cache_salt": ""})",
      R"({"prompt": "hi", "user": 1})",
      R"({"prompt": "hi", "prompt_logprobs": 1, "stream": true})",
      R"({"prompt": "hi", "response_format": {"type": "json_object"}})",
  };
  for (const char* body : bodies) {
    EXPECT_EQ(status_of([&] { parse_completion_request(json::parse(body)); }), 400) << body;
  }
}

TEST(OpenAIProtocol, ContinuousUsageNeedsIncludeUsage) {
  const CompletionRequest alone = parse_completion_request(json::parse(R"({
      "prompt": "hi", "stream": true, "stream_options": {"continuous_usage_stats": true}})"));
  EXPECT_FALSE(alone.stream.continuous_usage);
  const CompletionRequest both = parse_completion_request(json::parse(R"({
      "prompt": "hi", "stream": true,
      "stream_options": {"include_usage": true, "continuous_usage_stats": true}})"));
  EXPECT_TRUE(both.stream.include_usage);
  EXPECT_TRUE(both.stream.continuous_usage);
}

TEST(OpenAIProtocol, EchoLogprobsAskPromptLogprobs) {
  const CompletionRequest request = parse_completion_request(
      json::parse(R"({"prompt": "hi", "echo": true, "logprobs": 2})"));
  EXPECT_EQ(request.params.prompt_logprobs, 2);
  const CompletionRequest explicit_request = parse_completion_request(
      json::parse(R"({"prompt": "hi", "prompt_logprobs": 0})"));
  EXPECT_EQ(explicit_request.params.prompt_logprobs, 0);
}

TEST(OpenAIProtocol, ChatEchoAndTextFormat) {
  const ChatRequest request = parse_chat_request(json::parse(R"({
      "messages": [{"role": "user", "content": "x"}], "echo": true,
      "response_format": {"type": "text"}})"));
  EXPECT_TRUE(request.echo);
}

TEST(OpenAIProtocol, TruncateKeepsLastTokens) {
  std::vector<int32_t> ids = {1, 2, 3, 4, 5};
  truncate_prompt(ids, 2, 512);
  EXPECT_EQ(ids, (std::vector<int32_t>{4, 5}));
  std::vector<int32_t> short_ids = {1, 2};
  truncate_prompt(short_ids, 5, 512);
  EXPECT_EQ(short_ids, (std::vector<int32_t>{1, 2}));
  std::vector<int32_t> to_context = {1, 2, 3, 4};
  truncate_prompt(to_context, -1, 3);
  EXPECT_EQ(to_context, (std::vector<int32_t>{2, 3, 4}));
  std::vector<int32_t> unchanged = {1, 2};
  truncate_prompt(unchanged, std::nullopt, 3);
  EXPECT_EQ(unchanged.size(), 2u);
}

TEST(OpenAIProtocol, TruncateBeyondContext400) {
  std::vector<int32_t> ids = {1, 2, 3};
  EXPECT_EQ(status_of([&] { truncate_prompt(ids, 600, 512); }), 400);
}

TEST(OpenAIProtocol, ChatEchoNotUnknown) {
  const json body = json::parse(R"({"messages": [], "echo": true, "priority": 1})");
  EXPECT_TRUE(unknown_fields(body, true).empty());
}

}  // namespace
}  // namespace vllm::server
