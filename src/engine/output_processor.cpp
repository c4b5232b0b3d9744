#include "engine/output_processor.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "core/errors.h"
#include "core/logging.h"
#include "engine/stop_checker.h"

namespace vllm {

std::string child_request_id(const std::string& request_id, int index, int n) {
  return n == 1 ? request_id : fmt::format("{}_{}", index, request_id);
}

OutputProcessor::OutputProcessor(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

std::vector<std::string> OutputProcessor::add_request(const std::string& request_id,
                                                      std::optional<std::string> prompt,
                                                      std::vector<int32_t> prompt_token_ids,
                                                      const SamplingParams& params) {
  VLLM_CHECK(!requests_.count(request_id), "request {} is already registered", request_id);
  RequestState& state = requests_[request_id];
  state.output.request_id = request_id;
  state.output.prompt = std::move(prompt);
  state.output.prompt_token_ids = std::move(prompt_token_ids);
  state.arrival = std::chrono::steady_clock::now();
  state.output.metrics.arrival_time =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  state.params = params;
  state.want_logprobs = params.logprobs.has_value();
  for (int index = 0; index < params.n; ++index) {
    SampleState sample;
    sample.output.index = index;
    if (state.want_logprobs) sample.output.logprobs = SampleLogprobs{};
    sample.detokenizer =
        std::make_unique<IncrementalDetokenizer>(tokenizer_, params.skip_special_tokens);
    state.samples.push_back(std::move(sample));
    const std::string child_id = child_request_id(request_id, index, params.n);
    state.child_ids.push_back(child_id);
    child_to_parent_[child_id] = {request_id, index};
  }
  return state.child_ids;
}

std::vector<std::string> OutputProcessor::unfinished_child_ids(
    const std::string& request_id) const {
  std::vector<std::string> ids;
  auto it = requests_.find(request_id);
  if (it == requests_.end()) return ids;
  for (size_t i = 0; i < it->second.samples.size(); ++i) {
    if (!it->second.samples[i].output.finished()) ids.push_back(it->second.child_ids[i]);
  }
  return ids;
}

std::map<int32_t, Logprob> OutputProcessor::to_logprob_map(const TokenLogprobs& logprobs) const {
  std::map<int32_t, Logprob> result;
  for (size_t i = 0; i < logprobs.token_ids.size(); ++i) {
    const int32_t token = logprobs.token_ids[i];
    if (result.count(token)) continue;  // the sampled token may also be among the top ones
    const int32_t ids[] = {token};
    result.emplace(token, Logprob{logprobs.logprobs[i], logprobs.ranks[i],
                                  tokenizer_.decode(ids, /*skip_special_tokens=*/false)});
  }
  return result;
}

double OutputProcessor::unix_time_of(const RequestState& state,
                                     std::chrono::steady_clock::time_point time) {
  return state.output.metrics.arrival_time +
         std::chrono::duration<double>(time - state.arrival).count();
}

void OutputProcessor::apply(RequestState& state, int index, const EngineCoreOutput& output) {
  SampleState& sample = state.samples[index];
  CompletionOutput& completion = sample.output;
  RequestMetrics& metrics = state.output.metrics;
  // With n > 1 the earliest sample to be scheduled ends the request's queue time.
  if (output.first_scheduled_time.has_value() &&
      (!metrics.first_scheduled_time.has_value() ||
       unix_time_of(state, *output.first_scheduled_time) < *metrics.first_scheduled_time)) {
    metrics.first_scheduled_time = unix_time_of(state, *output.first_scheduled_time);
    metrics.time_in_queue =
        std::max(0.0, std::chrono::duration<double>(*output.first_scheduled_time - state.arrival)
                          .count());
  }
  if (!output.new_token_ids.empty()) {
    const double now = unix_time_of(state, std::chrono::steady_clock::now());
    if (!metrics.first_token_time.has_value()) metrics.first_token_time = now;
    metrics.last_token_time = now;
  }
  state.output.num_cached_tokens = output.num_cached_tokens;
  if (output.error.has_value()) state.output.error = output.error;
  // The engine core sends prompt logprobs with a request's first output; a one-token prompt
  // has none to send but still gets [None].
  if (state.params.prompt_logprobs.has_value() && !state.output.prompt_logprobs.has_value() &&
      (output.prompt_logprobs.has_value() || !output.new_token_ids.empty())) {
    PromptLogprobs prompt_logprobs = {std::nullopt};
    if (output.prompt_logprobs.has_value()) {
      for (const TokenLogprobs& logprobs : *output.prompt_logprobs) {
        prompt_logprobs.push_back(to_logprob_map(logprobs));
      }
    }
    state.output.prompt_logprobs = std::move(prompt_logprobs);
  }
  // A stop string already ended this sample; the engine core ran it until the abort.
  if (completion.finished()) return;

  const size_t text_size_before = sample.full_text.size();
  for (size_t i = 0; i < output.new_token_ids.size(); ++i) {
    const int32_t token = output.new_token_ids[i];
    completion.token_ids.push_back(token);
    if (state.params.detokenize) sample.full_text += sample.detokenizer->add_token(token);
    if (state.want_logprobs && i < output.new_logprobs.size()) {
      const TokenLogprobs& logprobs = output.new_logprobs[i];
      completion.cumulative_logprob += logprobs.logprobs.front();
      completion.logprobs->push_back(to_logprob_map(logprobs));
    }
  }
  if (output.finished() && state.params.detokenize) {
    sample.full_text += sample.detokenizer->flush();
  }
  check_stop_strings_of(state, index, sample.full_text.size() - text_size_before,
                        output.finished());
  if (output.finished() && !completion.finished()) {
    completion.finish_reason = output.finish_reason;
    completion.stop_reason = output.stop_reason;
  }

  const int buffer_length = completion.finished() ? 0 : state.params.output_text_buffer_length();
  completion.text =
      sample.full_text.substr(0, length_without_last_chars(sample.full_text, buffer_length));
}

// Stop strings are checked once more than min_tokens tokens were generated, as in vLLM.
void OutputProcessor::check_stop_strings_of(RequestState& state, int index,
                                            size_t num_new_bytes, bool finished_by_core) {
  const SamplingParams& params = state.params;
  SampleState& sample = state.samples[index];
  if (params.stop.empty()) return;
  if (sample.output.token_ids.size() <= static_cast<size_t>(params.min_tokens)) return;
  std::optional<StopStringMatch> match = check_stop_strings(
      sample.full_text, num_new_bytes, params.stop, params.include_stop_str_in_output);
  if (!match.has_value()) return;
  if (match->truncate_to.has_value()) sample.full_text.resize(*match->truncate_to);
  sample.output.finish_reason = "stop";
  sample.output.stop_reason = match->stop_str;
  if (!finished_by_core) stopped_child_ids_.push_back(state.child_ids[index]);
}

std::vector<std::string> OutputProcessor::take_stopped_child_ids() {
  return std::exchange(stopped_child_ids_, {});
}

RequestOutput OutputProcessor::make_request_output(RequestState& state) {
  RequestOutput request_output = state.output;
  const bool delta = state.params.output_kind == RequestOutputKind::DELTA;
  if (delta && state.prompt_logprobs_reported) request_output.prompt_logprobs.reset();
  state.prompt_logprobs_reported = state.output.prompt_logprobs.has_value();

  request_output.finished = true;
  for (SampleState& sample : state.samples) {
    CompletionOutput completion = sample.output;
    if (delta) {
      // Only what was not reported before: text, token ids and their logprobs.
      completion.text = completion.text.substr(sample.num_reported_text_bytes);
      completion.token_ids.erase(completion.token_ids.begin(),
                                 completion.token_ids.begin() + sample.num_reported_tokens);
      if (completion.logprobs.has_value()) {
        completion.logprobs->erase(completion.logprobs->begin(),
                                   completion.logprobs->begin() + sample.num_reported_tokens);
      }
      sample.num_reported_text_bytes = sample.output.text.size();
      sample.num_reported_tokens = sample.output.token_ids.size();
    }
    request_output.finished = request_output.finished && completion.finished();
    request_output.outputs.push_back(std::move(completion));
  }
  return request_output;
}

std::vector<RequestOutput> OutputProcessor::process_outputs(
    const std::vector<EngineCoreOutput>& outputs) {
  std::vector<std::string> advanced;  // request ids in order of first appearance
  for (const EngineCoreOutput& output : outputs) {
    auto child = child_to_parent_.find(output.request_id);
    if (child == child_to_parent_.end()) {
      VLLM_LOG_DEBUG("output for unknown request {} dropped", output.request_id);
      continue;
    }
    const auto& [request_id, index] = child->second;
    apply(requests_.at(request_id), index, output);
    if (std::find(advanced.begin(), advanced.end(), request_id) == advanced.end()) {
      advanced.push_back(request_id);
    }
  }

  std::vector<RequestOutput> result;
  for (const std::string& request_id : advanced) {
    auto it = requests_.find(request_id);
    RequestState& state = it->second;
    bool finished = true;
    for (const SampleState& sample : state.samples) {
      finished = finished && sample.output.finished();
    }
    if (finished) {
      state.output.metrics.finished_time =
          unix_time_of(state, std::chrono::steady_clock::now());
    }
    if (finished || state.params.output_kind != RequestOutputKind::FINAL_ONLY) {
      result.push_back(make_request_output(state));
    }
    if (finished) {
      for (const std::string& child_id : state.child_ids) child_to_parent_.erase(child_id);
      requests_.erase(it);
    }
  }
  return result;
}

}  // namespace vllm
