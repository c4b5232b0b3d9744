#include "server/generation_job.h"

#include <algorithm>
#include <cmath>
#include <tuple>
#include <variant>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "core/logging.h"
#include "server/engine_client.h"
#include "server/errors.h"
#include "server/streaming.h"
#include "tokenizer/tokenizer.h"

namespace vllm::server {

using json = nlohmann::ordered_json;

namespace {

// JSON has no -inf; vLLM reports such logprobs as -9999.0.
double finite_logprob(double logprob) { return std::isfinite(logprob) ? logprob : -9999.0; }

json token_bytes(const std::string& token) {
  json bytes = json::array();
  for (unsigned char c : token) bytes.push_back(static_cast<int>(c));
  return bytes;
}

json stop_reason_json(const CompletionOutput& completion) {
  if (const auto* id = std::get_if<int32_t>(&completion.stop_reason)) return *id;
  if (const auto* text = std::get_if<std::string>(&completion.stop_reason)) return *text;
  return nullptr;
}

json finish_reason_json(const CompletionOutput& completion) {
  if (!completion.finish_reason.has_value()) return nullptr;
  return *completion.finish_reason;
}

// One position's logprobs in vLLM's order: the chosen (or prompt) token first, then the
// others by rank, ties by token id. The map is ordered by token id.
std::vector<std::pair<int32_t, const Logprob*>> in_vllm_order(
    const std::map<int32_t, Logprob>& position, int32_t first_token) {
  std::vector<std::pair<int32_t, const Logprob*>> ordered;
  for (const auto& [id, logprob] : position) ordered.emplace_back(id, &logprob);
  std::sort(ordered.begin(), ordered.end(), [first_token](const auto& a, const auto& b) {
    return std::make_tuple(a.first != first_token, a.second->rank, a.first) <
           std::make_tuple(b.first != first_token, b.second->rank, b.first);
  });
  return ordered;
}

// vLLM's prompt_logprobs field: null for the first prompt token, then
// {"<token id>": {"logprob", "rank", "decoded_token"}} per token, the prompt token first.
json prompt_logprobs_json(const RequestOutput& output) {
  if (!output.prompt_logprobs.has_value()) return nullptr;
  json entries = json::array();
  for (size_t i = 0; i < output.prompt_logprobs->size(); ++i) {
    const auto& position = (*output.prompt_logprobs)[i];
    if (!position.has_value()) {
      entries.push_back(nullptr);
      continue;
    }
    const int32_t prompt_token = i < output.prompt_token_ids.size() ? output.prompt_token_ids[i] : -1;
    json entry = json::object();
    for (const auto& [id, logprob] : in_vllm_order(*position, prompt_token)) {
      entry[std::to_string(id)] = json{{"logprob", finite_logprob(logprob->logprob)},
                                       {"rank", logprob->rank},
                                       {"decoded_token", logprob->decoded_token}};
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

// One token of the legacy completions logprobs; `logprobs` is null for the first prompt
// token, which has nothing before it.
struct TokenLogprobs {
  int32_t token_id;
  const std::map<int32_t, Logprob>* logprobs;
};

}  // namespace

GenerationJob::GenerationJob(GenerationSpec spec, EngineClient& client,
                             const Tokenizer& tokenizer, std::shared_ptr<ResponseWriter> writer)
    : spec_(std::move(spec)),
      client_(client),
      tokenizer_(tokenizer),
      writer_(std::move(writer)),
      choices_(spec_.prompt_token_ids.size() * spec_.params.n),
      final_outputs_(spec_.prompt_token_ids.size()) {}

std::string GenerationJob::engine_request_id(size_t prompt_index) const {
  if (spec_.prompt_token_ids.size() == 1) return spec_.response_id;
  return fmt::format("{}-{}", spec_.response_id, prompt_index);
}

void GenerationJob::start(GenerationSpec spec, EngineClient& client, const Tokenizer& tokenizer,
                          std::shared_ptr<ResponseWriter> writer) {
  auto job = std::make_shared<GenerationJob>(std::move(spec), client, tokenizer, writer);
  const auto executor = writer->executor();
  for (size_t i = 0; i < job->spec_.prompt_token_ids.size(); ++i) {
    PromptInput prompt;
    prompt.token_ids = job->spec_.prompt_token_ids[i];
    prompt.cache_salt = job->spec_.options.cache_salt;
    auto sink = [job, executor, i](RequestOutput output) {
      boost::asio::post(executor, [job, i, output = std::move(output)]() mutable {
        job->on_output(i, std::move(output));
      });
    };
    try {
      client.add_request(job->engine_request_id(i), prompt, job->spec_.params,
                         job->spec_.options.priority, std::move(sink));
    } catch (...) {
      job->abort_unfinished();
      throw;
    }
    ++job->num_added_;
  }
  writer->on_disconnect([job] {
    VLLM_LOG_DEBUG("client of request {} disconnected, aborting it", job->spec_.response_id);
    job->abort_unfinished();
    job->log_access(200, "client disconnected, aborted");
  });
  if (job->spec_.stream.stream) {
    writer->start_events();
    if (job->spec_.chat) {
      job->send_role_chunks();
      job->send_chat_echo_chunks();
    }
  }
}

void GenerationJob::abort_unfinished() {
  for (size_t i = 0; i < num_added_; ++i) {
    if (!final_outputs_[i].has_value()) client_.abort(engine_request_id(i));
  }
}

json GenerationJob::chunk_header() const {
  return json{{"id", spec_.response_id},
              {"object", spec_.chat ? "chat.completion.chunk" : "text_completion"},
              {"created", spec_.created},
              {"model", spec_.model_name}};
}

json GenerationJob::usage() const {
  int64_t num_prompt_tokens = 0;
  for (const auto& ids : spec_.prompt_token_ids) num_prompt_tokens += ids.size();
  int64_t num_completion_tokens = 0;
  for (const auto& output : final_outputs_) {
    if (!output.has_value()) continue;
    for (const CompletionOutput& completion : output->outputs) {
      num_completion_tokens += completion.token_ids.size();
    }
  }
  int64_t num_cached_tokens = 0;
  for (const auto& output : final_outputs_) {
    if (output.has_value()) num_cached_tokens += output->num_cached_tokens;
  }
  // As in vLLM, the details appear only when the flag is on and some tokens were cached.
  json details = nullptr;
  if (spec_.enable_prompt_tokens_details && num_cached_tokens > 0) {
    details = json{{"cached_tokens", num_cached_tokens}};
  }
  return json{{"prompt_tokens", num_prompt_tokens},
              {"total_tokens", num_prompt_tokens + num_completion_tokens},
              {"completion_tokens", num_completion_tokens},
              {"prompt_tokens_details", std::move(details)}};
}

// The usage of one streamed choice so far (stream_options.continuous_usage_stats).
json GenerationJob::choice_usage(size_t prompt_index, size_t num_completion_tokens) const {
  const auto num_prompt_tokens =
      static_cast<int64_t>(spec_.prompt_token_ids[prompt_index].size());
  const auto num_completion = static_cast<int64_t>(num_completion_tokens);
  return json{{"prompt_tokens", num_prompt_tokens},
              {"total_tokens", num_prompt_tokens + num_completion},
              {"completion_tokens", num_completion},
              {"prompt_tokens_details", nullptr}};
}

// OpenAI's legacy completions format: parallel lists plus one {token: logprob} map per
// token. `text_offset` is the offset of the first token in the choice's text.
json GenerationJob::completion_logprobs(const RequestOutput& output,
                                        const CompletionOutput& completion, size_t begin,
                                        bool with_prompt, size_t text_offset) const {
  if (!completion.logprobs.has_value()) return nullptr;
  std::vector<TokenLogprobs> entries;
  if (with_prompt && output.prompt_logprobs.has_value()) {
    const PromptLogprobs& prompt_logprobs = *output.prompt_logprobs;
    for (size_t i = 0; i < output.prompt_token_ids.size() && i < prompt_logprobs.size(); ++i) {
      entries.push_back({output.prompt_token_ids[i],
                         prompt_logprobs[i].has_value() ? &*prompt_logprobs[i] : nullptr});
    }
  }
  const SampleLogprobs& logprobs = *completion.logprobs;
  for (size_t i = begin; i < completion.token_ids.size() && i < logprobs.size(); ++i) {
    entries.push_back({completion.token_ids[i], &logprobs[i]});
  }

  json tokens = json::array(), token_logprobs = json::array(), top_logprobs = json::array(),
       text_offsets = json::array();
  for (const TokenLogprobs& entry : entries) {
    const Logprob* sampled = nullptr;
    if (entry.logprobs != nullptr) {
      const auto it = entry.logprobs->find(entry.token_id);
      if (it != entry.logprobs->end()) sampled = &it->second;
    }
    const std::string token = sampled != nullptr
                                  ? sampled->decoded_token
                                  : tokenizer_.decode(std::vector<int32_t>{entry.token_id});
    tokens.push_back(token);
    token_logprobs.push_back(sampled != nullptr ? json(finite_logprob(sampled->logprob))
                                                : json());
    if (entry.logprobs == nullptr) {
      top_logprobs.push_back(nullptr);
    } else {
      json top = json::object();
      for (const auto& [id, logprob] : in_vllm_order(*entry.logprobs, entry.token_id)) {
        top[logprob->decoded_token] = finite_logprob(logprob->logprob);
      }
      top_logprobs.push_back(std::move(top));
    }
    text_offsets.push_back(text_offset);
    text_offset += token.size();
  }
  return json{{"text_offset", std::move(text_offsets)},
              {"token_logprobs", std::move(token_logprobs)},
              {"tokens", std::move(tokens)},
              {"top_logprobs", std::move(top_logprobs)}};
}

// The chat format: one entry per token with its top_logprobs ordered by rank.
json GenerationJob::chat_logprobs(const CompletionOutput& completion, size_t begin) const {
  if (spec_.num_chat_top_logprobs < 0 || !completion.logprobs.has_value()) return nullptr;
  const SampleLogprobs& logprobs = *completion.logprobs;
  json content = json::array();
  for (size_t i = begin; i < completion.token_ids.size() && i < logprobs.size(); ++i) {
    const int32_t token_id = completion.token_ids[i];
    std::vector<std::pair<int32_t, const Logprob*>> ranked;
    for (const auto& [id, logprob] : logprobs[i]) ranked.emplace_back(id, &logprob);
    std::sort(ranked.begin(), ranked.end(),
              [](const auto& a, const auto& b) { return a.second->rank < b.second->rank; });
    json top = json::array();
    for (size_t k = 0; k < ranked.size() && static_cast<int>(k) < spec_.num_chat_top_logprobs;
         ++k) {
      const Logprob& logprob = *ranked[k].second;
      top.push_back(json{{"token", logprob.decoded_token},
                         {"logprob", finite_logprob(logprob.logprob)},
                         {"bytes", token_bytes(logprob.decoded_token)}});
    }
    const auto sampled = logprobs[i].find(token_id);
    const std::string token = sampled != logprobs[i].end()
                                  ? sampled->second.decoded_token
                                  : tokenizer_.decode(std::vector<int32_t>{token_id});
    const double logprob = sampled != logprobs[i].end() ? sampled->second.logprob : -9999.0;
    content.push_back(json{{"token", token},
                           {"logprob", finite_logprob(logprob)},
                           {"bytes", token_bytes(token)},
                           {"top_logprobs", std::move(top)}});
  }
  return json{{"content", std::move(content)}};
}

void GenerationJob::send_role_chunks() {
  for (size_t index = 0; index < choices_.size(); ++index) {
    json chunk = chunk_header();
    chunk["choices"] = json::array({json{{"index", index},
                                         {"delta", {{"role", "assistant"}, {"content", ""}}},
                                         {"logprobs", nullptr},
                                         {"finish_reason", nullptr}}});
    if (spec_.stream.continuous_usage) chunk["usage"] = choice_usage(0, 0);
    writer_->send_event(sse_event(chunk));
  }
}

// vLLM's chat echo: a content chunk per choice with the echoed text, after the role chunk.
void GenerationJob::send_chat_echo_chunks() {
  if (spec_.chat_echo_text.empty()) return;
  for (size_t index = 0; index < choices_.size(); ++index) {
    json chunk = chunk_header();
    chunk["choices"] = json::array({json{{"index", index},
                                         {"delta", {{"content", spec_.chat_echo_text}}},
                                         {"logprobs", nullptr},
                                         {"finish_reason", nullptr}}});
    if (spec_.stream.continuous_usage) chunk["usage"] = choice_usage(0, 0);
    writer_->send_event(sse_event(chunk));
  }
}

void GenerationJob::on_output(size_t prompt_index, RequestOutput output) {
  if (failed_ || !writer_->is_active()) return;
  if (output.error.has_value()) {
    VLLM_LOG_ERROR("request {} failed in the engine: {}", output.request_id, *output.error);
    fail(*output.error);
    return;
  }
  if (spec_.stream.stream) {
    for (const CompletionOutput& completion : output.outputs) {
      stream_choice(prompt_index, output, completion);
    }
  }
  if (output.finished) {
    final_outputs_[prompt_index] = std::move(output);
    if (++num_finished_ == final_outputs_.size()) finish();
  }
}

void GenerationJob::stream_choice(size_t prompt_index, const RequestOutput& output,
                                  const CompletionOutput& completion) {
  const size_t index = prompt_index * spec_.params.n + completion.index;
  ChoiceState& state = choices_.at(index);
  if (state.finished) return;
  const bool first = state.num_sent_bytes == 0 && state.num_sent_tokens == 0;
  std::string delta = completion.text.size() > state.num_sent_bytes
                          ? completion.text.substr(state.num_sent_bytes)
                          : std::string();
  const size_t num_tokens = completion.token_ids.size();
  if (delta.empty() && num_tokens == state.num_sent_tokens && !completion.finished()) return;

  json choice = {{"index", index}};
  if (spec_.chat) {
    choice["delta"] = delta.empty() && completion.finished() ? json::object()
                                                             : json{{"content", delta}};
    choice["logprobs"] = chat_logprobs(completion, state.num_sent_tokens);
  } else {
    const size_t echo_bytes =
        spec_.echo_texts.empty() ? 0 : spec_.echo_texts[prompt_index].size();
    if (first && echo_bytes > 0) delta = spec_.echo_texts[prompt_index] + delta;
    choice["text"] = delta;
    // The first chunk of an echoed prompt with logprobs starts with the prompt's tokens.
    const bool with_prompt = first && spec_.echo_prompt_logprobs;
    choice["logprobs"] = completion_logprobs(output, completion, state.num_sent_tokens,
                                             with_prompt,
                                             with_prompt ? 0 : echo_bytes + state.num_sent_bytes);
  }
  choice["finish_reason"] = finish_reason_json(completion);
  choice["stop_reason"] = stop_reason_json(completion);

  json chunk = chunk_header();
  chunk["choices"] = json::array({std::move(choice)});
  if (spec_.stream.continuous_usage) chunk["usage"] = choice_usage(prompt_index, num_tokens);
  writer_->send_event(sse_event(chunk));
  state.num_sent_bytes = completion.text.size();
  state.num_sent_tokens = num_tokens;
  state.finished = completion.finished();
}

void GenerationJob::finish() {
  if (spec_.stream.stream) {
    if (spec_.stream.include_usage) {
      json chunk = chunk_header();
      chunk["choices"] = json::array();
      chunk["usage"] = usage();
      writer_->send_event(sse_event(chunk));
    }
    writer_->send_event(kStreamDoneEvent);
    writer_->end_events();
    log_access(200, "streamed");
    return;
  }

  json choices = json::array();
  for (size_t prompt_index = 0; prompt_index < final_outputs_.size(); ++prompt_index) {
    for (const CompletionOutput& completion : final_outputs_[prompt_index]->outputs) {
      const size_t index = prompt_index * spec_.params.n + completion.index;
      json choice = {{"index", index}};
      if (spec_.chat) {
        choice["message"] = json{{"role", "assistant"},
                                 {"content", spec_.chat_echo_text + completion.text},
                                 {"tool_calls", json::array()}};
        choice["logprobs"] = chat_logprobs(completion, 0);
      } else {
        const RequestOutput& output = *final_outputs_[prompt_index];
        const std::string echo =
            spec_.echo_texts.empty() ? std::string() : spec_.echo_texts[prompt_index];
        choice["text"] = echo + completion.text;
        choice["logprobs"] = completion_logprobs(
            output, completion, 0, spec_.echo_prompt_logprobs,
            spec_.echo_prompt_logprobs ? 0 : echo.size());
        if (spec_.params.prompt_logprobs.has_value()) {
          choice["prompt_logprobs"] = prompt_logprobs_json(output);
        }
      }
      choice["finish_reason"] = finish_reason_json(completion);
      choice["stop_reason"] = stop_reason_json(completion);
      choices.push_back(std::move(choice));
    }
  }
  json body = {{"id", spec_.response_id},
               {"object", spec_.chat ? "chat.completion" : "text_completion"},
               {"created", spec_.created},
               {"model", spec_.model_name},
               {"choices", std::move(choices)},
               {"usage", usage()}};
  if (spec_.chat && spec_.params.prompt_logprobs.has_value()) {
    body["prompt_logprobs"] = prompt_logprobs_json(*final_outputs_[0]);
  }
  writer_->send(200, "application/json",
                body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  log_access(200, "OK");
}

void GenerationJob::log_access(int status, std::string_view outcome) const {
  const json counts = usage();
  // usage() counts finished choices only; a stream cut short has sent tokens of unfinished
  // ones, which the access log counts too.
  size_t num_sent_tokens = 0;
  for (const ChoiceState& choice : choices_) num_sent_tokens += choice.num_sent_tokens;
  const int64_t num_completion_tokens = std::max(
      counts["completion_tokens"].get<int64_t>(), static_cast<int64_t>(num_sent_tokens));
  const double latency_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time_).count();
  VLLM_LOG_INFO("{} \"POST {}\" {} {}: request {}, {} prompt tokens, {} completion tokens, "
                "{:.3f} s",
                spec_.client, spec_.path, status, outcome, spec_.response_id,
                counts["prompt_tokens"].get<int64_t>(), num_completion_tokens, latency_s);
}

void GenerationJob::fail(const std::string& message) {
  failed_ = true;
  abort_unfinished();
  const std::string error = error_body(500, message);
  if (spec_.stream.stream) {
    writer_->send_event("data: " + error + "\n\n");
    writer_->send_event(kStreamDoneEvent);
    writer_->end_events();
  } else {
    writer_->send(500, "application/json", error);
  }
  // A stream has already sent its 200 header, so the failure shows only in its events.
  log_access(spec_.stream.stream ? 200 : 500, "failed in the engine");
}

}  // namespace vllm::server
