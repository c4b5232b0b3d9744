#include "engine/scheduler.h"

#include <algorithm>
#include <utility>

#include "core/errors.h"
#include "core/logging.h"

namespace vllm {

Scheduler::Scheduler(const SchedulerConfig& config)
    : config_(config),
      kv_cache_manager_(config.num_blocks, config.block_size, config.enable_prefix_caching) {
  VLLM_CHECK(config.max_num_seqs > 0 && config.max_num_batched_tokens > 0,
             "max_num_seqs={} max_num_batched_tokens={}", config.max_num_seqs,
             config.max_num_batched_tokens);
}

void Scheduler::add_request(std::unique_ptr<Request> request) {
  const std::string id = request->request_id();
  VLLM_CHECK(!requests_.count(id), "request {} is already scheduled", id);
  request->status = RequestStatus::WAITING;
  request->arrival_order = next_arrival_order_++;
  enqueue_waiting(request.get(), /*front=*/false);
  requests_.emplace(id, std::move(request));
}

// One step's plan. There is no separate prefill phase. Every request has
// num_computed_tokens, and a step gives it the next tokens it has not computed: one token
// for a decode, a chunk for a prefill, or the whole history again after a preemption.
// Running requests are served first, in admission order, each taking
// min(tokens left, token budget). When the KV cache has no block for one of them, a
// running request is preempted (blocks freed, progress reset) until the allocation fits:
// the last admitted one under FCFS, the highest (priority, arrival) one under PRIORITY,
// which may take back a request already scheduled in this step. Waiting requests are
// admitted in queue order while the budget, max_num_seqs and free blocks last, unless
// this step preempted something. A request without blocks first takes the longest cached
// prefix of its tokens, so only the rest is computed.
SchedulerOutput Scheduler::schedule() {
  SchedulerOutput output;
  int64_t token_budget = config_.max_num_batched_tokens;

  const bool preempted = schedule_running(output, token_budget);

  if (!preempted) schedule_waiting(output, token_budget);

  ++stats_.num_steps;
  stats_.max_running_in_step =
      std::max<int64_t>(stats_.max_running_in_step, static_cast<int64_t>(output.scheduled.size()));
  return output;
}

bool Scheduler::schedule_running(SchedulerOutput& output, int64_t& token_budget) {
  bool preempted = false;
  size_t index = 0;
  while (index < running_.size() && token_budget > 0) {
    Request* request = running_[index];
    const int64_t num_new_tokens =
        std::min(request->num_tokens() - request->num_computed_tokens, token_budget);
    VLLM_CHECK(num_new_tokens > 0, "running request {} has no token to compute",
               request->request_id());

    bool scheduled = false;
    while (true) {
      if (kv_cache_manager_.allocate_slots(*request, num_new_tokens).has_value()) {
        scheduled = true;
        break;
      }
      Request* victim = pick_preemption_victim();
      const auto victim_index =
          static_cast<size_t>(std::find(running_.begin(), running_.end(), victim) -
                              running_.begin());
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(victim_index));
      if (victim_index < index) {
        // Already scheduled in this step: take back its tokens.
        auto scheduled_it = std::find_if(
            output.scheduled.begin(), output.scheduled.end(),
            [victim](const ScheduledRequest& scheduled) { return scheduled.request == victim; });
        VLLM_CHECK(scheduled_it != output.scheduled.end(), "preempted request {} not found",
                   victim->request_id());
        token_budget += scheduled_it->num_new_tokens;
        output.total_num_scheduled_tokens -= scheduled_it->num_new_tokens;
        output.scheduled.erase(scheduled_it);
        --index;
      }
      preempt(victim, output);
      preempted = true;
      if (victim == request) break;
    }
    if (!scheduled) break;

    add_scheduled(output, request, num_new_tokens, token_budget);
    ++index;
  }
  return preempted;
}

void Scheduler::schedule_waiting(SchedulerOutput& output, int64_t& token_budget) {
  while (!waiting_.empty() && token_budget > 0 &&
         static_cast<int64_t>(running_.size()) < config_.max_num_seqs) {
    Request* request = waiting_.front();
    ComputedBlocks computed;
    if (request->num_computed_tokens == 0) {
      computed = kv_cache_manager_.get_computed_blocks(*request);
    }
    const int64_t num_remaining =
        request->num_tokens() - request->num_computed_tokens - computed.num_computed_tokens;
    // Without chunked prefill the prompt waits for a step with room for all of it.
    if (!config_.enable_chunked_prefill && num_remaining > token_budget) break;
    const int64_t num_new_tokens = std::min(num_remaining, token_budget);
    if (!kv_cache_manager_.allocate_slots(*request, num_new_tokens, computed).has_value()) {
      break;
    }

    waiting_.pop_front();
    request->num_computed_tokens += computed.num_computed_tokens;
    if (request->num_cached_tokens < 0) request->num_cached_tokens = computed.num_computed_tokens;
    request->status = RequestStatus::RUNNING;
    running_.push_back(request);
    add_scheduled(output, request, num_new_tokens, token_budget);
  }
}

Request* Scheduler::pick_preemption_victim() const {
  VLLM_CHECK(!running_.empty(), "no running request to preempt");
  if (config_.policy == SchedulingPolicy::FCFS) return running_.back();
  return *std::max_element(running_.begin(), running_.end(),
                           [](const Request* a, const Request* b) {
                             return std::pair(a->priority, a->arrival_order) <
                                    std::pair(b->priority, b->arrival_order);
                           });
}

void Scheduler::enqueue_waiting(Request* request, bool front) {
  if (config_.policy == SchedulingPolicy::FCFS) {
    if (front) {
      waiting_.push_front(request);
    } else {
      waiting_.push_back(request);
    }
    return;
  }
  const auto key = std::pair(request->priority, request->arrival_order);
  auto position = std::upper_bound(
      waiting_.begin(), waiting_.end(), key, [](const auto& value, const Request* other) {
        return value < std::pair(other->priority, other->arrival_order);
      });
  waiting_.insert(position, request);
}

void Scheduler::preempt(Request* request, SchedulerOutput& output) {
  kv_cache_manager_.free(*request);
  request->status = RequestStatus::PREEMPTED;
  request->num_computed_tokens = 0;
  ++request->num_preemptions;
  ++stats_.num_preemptions;
  enqueue_waiting(request, /*front=*/true);
  output.preempted_request_ids.push_back(request->request_id());
  VLLM_LOG_DEBUG("preempted request {} ({} tokens to recompute)", request->request_id(),
                 request->num_tokens());
}

void Scheduler::add_scheduled(SchedulerOutput& output, Request* request, int64_t num_new_tokens,
                              int64_t& token_budget) {
  count_multi_step_prefill(*request, num_new_tokens);
  ScheduledRequest scheduled;
  scheduled.request = request;
  scheduled.num_new_tokens = num_new_tokens;
  scheduled.block_ids = kv_cache_manager_.get_block_ids(request->request_id());
  output.scheduled.push_back(std::move(scheduled));
  output.total_num_scheduled_tokens += num_new_tokens;
  token_budget -= num_new_tokens;
}

void Scheduler::count_multi_step_prefill(const Request& request, int64_t num_new_tokens) {
  // A step that leaves the prompt unfinished means the prefill spans several steps (a
  // prefix-cache hit alone does not).
  const bool prompt_split =
      request.num_computed_tokens + num_new_tokens < request.num_prompt_tokens();
  if (prompt_split && multi_step_prefill_ids_.insert(request.request_id()).second) {
    ++stats_.num_multi_step_prefills;
  }
}

std::vector<EngineCoreOutput> Scheduler::update_from_output(
    const SchedulerOutput& scheduler_output, const ModelRunnerOutput& runner_output) {
  std::vector<EngineCoreOutput> outputs;
  for (const ScheduledRequest& scheduled : scheduler_output.scheduled) {
    Request* request = scheduled.request;
    request->num_computed_tokens += scheduled.num_new_tokens;

    auto sampled = runner_output.sampled.find(request->request_id());
    if (sampled == runner_output.sampled.end()) continue;  // prefill still in progress
    VLLM_CHECK(request->num_computed_tokens == request->num_tokens(),
               "request {} sampled with {} of {} tokens computed", request->request_id(),
               request->num_computed_tokens, request->num_tokens());

    request->append_output_token(sampled->second.token_id);
    EngineCoreOutput output;
    output.request_id = request->request_id();
    output.num_cached_tokens = static_cast<int>(std::max<int64_t>(0, request->num_cached_tokens));
    output.new_token_ids.push_back(sampled->second.token_id);
    if (sampled->second.logprobs.has_value()) {
      output.new_logprobs.push_back(*sampled->second.logprobs);
    }
    if (check_stop(*request)) {
      output.finish_reason = finish_reason_of(request->status);
      output.stop_reason = request->stop_reason;
      remove_finished(request);
    }
    outputs.push_back(std::move(output));
  }
  return outputs;
}

// Stop conditions in vLLM's order, except that a stop token sampled as the last allowed
// token reports "stop" rather than "length". EOS and stop_token_ids cannot be sampled
// before min_tokens because the sampler masks them.
bool Scheduler::check_stop(Request& request) const {
  const SamplingParams& params = request.sampling_params();
  const int32_t last_token = request.output_token_ids().back();
  if (request.num_output_tokens() >= params.min_tokens) {
    if (!params.ignore_eos && request.eos_token_id() == last_token) {
      request.status = RequestStatus::FINISHED_STOPPED;
      return true;
    }
    if (std::find(params.stop_token_ids.begin(), params.stop_token_ids.end(), last_token) !=
        params.stop_token_ids.end()) {
      request.status = RequestStatus::FINISHED_STOPPED;
      request.stop_reason = last_token;
      return true;
    }
  }
  if (request.num_output_tokens() >= request.max_tokens() ||
      request.num_tokens() >= config_.max_model_len) {
    request.status = RequestStatus::FINISHED_LENGTH_CAPPED;
    return true;
  }
  return false;
}

void Scheduler::remove_finished(Request* request) {
  kv_cache_manager_.free(*request);
  running_.erase(std::remove(running_.begin(), running_.end(), request), running_.end());
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), request), waiting_.end());
  multi_step_prefill_ids_.erase(request->request_id());
  requests_.erase(request->request_id());  // destroys the request
}

std::vector<std::string> Scheduler::request_ids() const {
  std::vector<std::string> ids;
  ids.reserve(requests_.size());
  for (const auto& [id, request] : requests_) ids.push_back(id);
  return ids;
}

std::vector<EngineCoreOutput> Scheduler::finish_requests(
    const std::vector<std::string>& request_ids, RequestStatus status,
    const std::optional<std::string>& error) {
  VLLM_CHECK(is_finished(status), "finish_requests with status {}", status_name(status));
  std::vector<EngineCoreOutput> outputs;
  for (const std::string& id : request_ids) {
    auto it = requests_.find(id);
    if (it == requests_.end()) continue;
    Request* request = it->second.get();
    request->status = status;
    EngineCoreOutput output;
    output.request_id = id;
    output.finish_reason = finish_reason_of(status);
    output.error = error;
    outputs.push_back(std::move(output));
    remove_finished(request);
  }
  return outputs;
}

}  // namespace vllm
