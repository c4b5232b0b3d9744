#include "engine/output_processor.h"

#include <algorithm>
#include <utility>

#include "core/errors.h"
#include "core/logging.h"

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

void OutputProcessor::apply(RequestState& state, SampleState& sample,
                            const EngineCoreOutput& output) {
  CompletionOutput& completion = sample.output;
  for (size_t i = 0; i < output.new_token_ids.size(); ++i) {
    const int32_t token = output.new_token_ids[i];
    completion.token_ids.push_back(token);
    completion.text += sample.detokenizer->add_token(token);
    if (state.want_logprobs && i < output.new_logprobs.size()) {
      const TokenLogprobs& logprobs = output.new_logprobs[i];
      completion.cumulative_logprob += logprobs.logprobs.front();
      completion.logprobs->push_back(to_logprob_map(logprobs));
    }
  }
  state.output.num_cached_tokens = output.num_cached_tokens;
  if (output.error.has_value()) state.output.error = output.error;
  if (output.finished()) {
    completion.text += sample.detokenizer->flush();
    completion.finish_reason = output.finish_reason;
    completion.stop_reason = output.stop_reason;
  }
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
    RequestState& state = requests_.at(request_id);
    apply(state, state.samples[index], output);
    if (std::find(advanced.begin(), advanced.end(), request_id) == advanced.end()) {
      advanced.push_back(request_id);
    }
  }

  std::vector<RequestOutput> result;
  for (const std::string& request_id : advanced) {
    auto it = requests_.find(request_id);
    RequestState& state = it->second;
    RequestOutput request_output = state.output;
    request_output.finished = true;
    for (const SampleState& sample : state.samples) {
      request_output.outputs.push_back(sample.output);
      request_output.finished = request_output.finished && sample.output.finished();
    }
    result.push_back(std::move(request_output));
    if (result.back().finished) {
      for (const std::string& child_id : state.child_ids) child_to_parent_.erase(child_id);
      requests_.erase(it);
    }
  }
  return result;
}

}  // namespace vllm
