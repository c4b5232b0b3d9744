// Runs one completion or chat completion request against the engine and writes its
// response: either one JSON body or a stream of SSE chunks. A request with several prompts
// becomes one engine request per prompt; choice i*n+j is sample j of prompt i.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/http_server.h"
#include "server/openai_protocol.h"
#include "vllm/outputs.h"

namespace vllm {
class Tokenizer;
}

namespace vllm::server {

class EngineClient;

struct GenerationSpec {
  bool chat = false;
  std::string response_id;     // "cmpl-..." or "chatcmpl-..."
  std::string model_name;
  std::string client;          // remote address and port, for the access log
  std::string path;            // the endpoint, for the access log
  int64_t created = 0;         // Unix seconds
  std::vector<std::vector<int32_t>> prompt_token_ids;   // [num_prompts][prompt_len]
  std::vector<std::string> echo_texts;   // completions with echo: prompt text per prompt
  SamplingParams params;
  RequestOptions options;           // priority and cache_salt reach the engine
  StreamOptions stream;
  int num_chat_top_logprobs = -1;   // chat with logprobs: top_logprobs; -1: no logprobs
  // Completions with echo and logprobs: the logprobs start with the prompt tokens'.
  bool echo_prompt_logprobs = false;
  std::string chat_echo_text;       // chat with echo: text the reply starts with
  // usage.prompt_tokens_details.cached_tokens is reported (--enable-prompt-tokens-details).
  bool enable_prompt_tokens_details = false;
};

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
 public:
  // Adds the engine requests and arranges for the response to be written. Throws
  // InvalidArgument or HttpError before anything is sent when a request is rejected.
  // Must run on the writer's strand.
  static void start(GenerationSpec spec, EngineClient& client, const Tokenizer& tokenizer,
                    std::shared_ptr<ResponseWriter> writer);

  GenerationJob(GenerationSpec spec, EngineClient& client, const Tokenizer& tokenizer,
                std::shared_ptr<ResponseWriter> writer);

 private:
  struct ChoiceState {
    size_t num_sent_bytes = 0;
    size_t num_sent_tokens = 0;
    bool finished = false;
  };

  std::string engine_request_id(size_t prompt_index) const;
  void on_output(size_t prompt_index, RequestOutput output);
  void stream_choice(size_t prompt_index, const RequestOutput& output,
                     const CompletionOutput& completion);
  void send_role_chunks();
  void send_chat_echo_chunks();
  void finish();
  void fail(const std::string& message);
  // Logs the request's one access line: client, endpoint, status, tokens and latency.
  void log_access(int status, std::string_view outcome) const;
  void abort_unfinished();

  nlohmann::ordered_json chunk_header() const;
  nlohmann::ordered_json usage() const;
  nlohmann::ordered_json choice_usage(size_t prompt_index, size_t num_completion_tokens) const;
  // The legacy completions format of the tokens from `begin` on; with `with_prompt`, the
  // prompt's tokens come first (echo).
  nlohmann::ordered_json completion_logprobs(const RequestOutput& output,
                                             const CompletionOutput& completion, size_t begin,
                                             bool with_prompt, size_t text_offset) const;
  nlohmann::ordered_json chat_logprobs(const CompletionOutput& completion, size_t begin) const;

  GenerationSpec spec_;
  EngineClient& client_;
  const Tokenizer& tokenizer_;
  std::shared_ptr<ResponseWriter> writer_;
  std::vector<ChoiceState> choices_;             // [num_prompts * n]
  std::vector<std::optional<RequestOutput>> final_outputs_;   // [num_prompts]
  size_t num_added_ = 0;
  size_t num_finished_ = 0;
  bool failed_ = false;
  std::chrono::steady_clock::time_point start_time_ = std::chrono::steady_clock::now();
};

}  // namespace vllm::server
