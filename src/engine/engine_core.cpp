#include "engine/engine_core.h"

#include <chrono>
#include <exception>
#include <unordered_map>
#include <utility>

#include <fmt/ranges.h>

#include "core/errors.h"
#include "core/logging.h"
#include "kernels/ops.h"

namespace vllm {
namespace {

constexpr auto kStatsLogInterval = std::chrono::seconds(5);

KVCache make_kv_cache(const ModelConfig& config, int64_t num_blocks, int64_t block_size) {
  const int64_t head_dim =
      config.head_dim > 0 ? config.head_dim : config.hidden_size / config.num_attention_heads;
  return KVCache(config.num_hidden_layers, num_blocks, block_size, config.num_key_value_heads,
                 head_dim);
}

// Hit rate since start. vLLM logs it over the most recent requests instead.
double prefix_cache_hit_rate(const PrefixCacheStats& stats) {
  if (stats.queries == 0) return 0.0;
  return static_cast<double>(stats.hits) / static_cast<double>(stats.queries);
}

}  // namespace

EngineCore::EngineCore(std::unique_ptr<Model> model, const SchedulerConfig& config,
                       int num_threads)
    : model_(std::move(model)),
      kv_cache_(make_kv_cache(model_->config(), config.num_blocks, config.block_size)),
      scheduler_(config),
      model_runner_(*model_, kv_cache_),
      last_log_time_(std::chrono::steady_clock::now()),
      thread_([this, num_threads] { run_loop(num_threads); }) {
  stats_.num_total_blocks = config.num_blocks - 1;  // the null block is never usable
  stats_.num_free_blocks = scheduler_.kv_cache_manager().num_free_blocks();
}

EngineCore::~EngineCore() {
  {
    std::lock_guard<std::mutex> lock(input_mutex_);
    stop_requested_ = true;
  }
  input_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EngineCore::add_request(std::unique_ptr<Request> request) {
  {
    std::lock_guard<std::mutex> lock(input_mutex_);
    inputs_.emplace_back(std::move(request));
  }
  input_cv_.notify_one();
}

void EngineCore::abort_requests(std::vector<std::string> request_ids) {
  {
    std::lock_guard<std::mutex> lock(input_mutex_);
    inputs_.emplace_back(std::move(request_ids));
  }
  input_cv_.notify_one();
}

bool EngineCore::reset_prefix_cache() {
  auto promise = std::make_shared<std::promise<bool>>();
  std::future<bool> result = promise->get_future();
  {
    std::lock_guard<std::mutex> lock(input_mutex_);
    inputs_.emplace_back(std::move(promise));
  }
  input_cv_.notify_one();
  return result.get();
}

std::vector<EngineCoreOutput> EngineCore::get_outputs(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(output_mutex_);
  output_cv_.wait_for(lock, timeout, [this] { return !outputs_.empty(); });
  return std::exchange(outputs_, {});
}

EngineStats EngineCore::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

void EngineCore::run_loop(int num_threads) {
  if (num_threads > 0) set_num_threads(num_threads);
  while (true) {
    std::deque<Input> inputs;
    {
      std::unique_lock<std::mutex> lock(input_mutex_);
      if (!scheduler_.has_unfinished_requests()) {
        input_cv_.wait(lock, [this] { return stop_requested_ || !inputs_.empty(); });
        // Throughput logs cover busy time only.
        last_log_time_ = std::chrono::steady_clock::now();
      }
      if (stop_requested_) break;
      inputs.swap(inputs_);
    }
    std::vector<EngineCoreOutput> aborted = apply_inputs(inputs);
    refresh_stats();  // before publishing, so callers never read stats older than outputs
    publish(std::move(aborted));
    if (!scheduler_.has_unfinished_requests()) continue;
    try {
      step();
    } catch (const std::exception& error) {
      // A failure outside the model step (scheduling, bookkeeping) leaves the scheduler's
      // state in doubt, so every request in flight ends instead of only the step's.
      const std::vector<std::string> request_ids = scheduler_.request_ids();
      VLLM_LOG_ERROR("engine step failed outside the model, aborting requests [{}]: {}",
                     fmt::join(request_ids, ", "), error.what());
      std::vector<EngineCoreOutput> failed = scheduler_.finish_requests(
          request_ids, RequestStatus::FINISHED_ABORTED, std::string(error.what()));
      refresh_stats();
      publish(std::move(failed));
    }
  }
  if (scheduler_.has_unfinished_requests()) {
    VLLM_LOG_WARN("engine core stopped with {} running and {} waiting requests",
                  scheduler_.num_running(), scheduler_.num_waiting());
  }
}

std::vector<EngineCoreOutput> EngineCore::apply_inputs(std::deque<Input>& inputs) {
  std::vector<EngineCoreOutput> aborted;
  for (Input& input : inputs) {
    if (auto* request = std::get_if<std::unique_ptr<Request>>(&input)) {
      scheduler_.add_request(std::move(*request));
      continue;
    }
    if (auto* reset = std::get_if<std::shared_ptr<std::promise<bool>>>(&input)) {
      (*reset)->set_value(scheduler_.reset_prefix_cache());
      continue;
    }
    const auto& ids = std::get<std::vector<std::string>>(input);
    std::vector<EngineCoreOutput> outputs =
        scheduler_.finish_requests(ids, RequestStatus::FINISHED_ABORTED);
    for (EngineCoreOutput& output : outputs) aborted.push_back(std::move(output));
  }
  return aborted;
}

// One iteration: schedule, run the model and sample, then apply the results. A failure
// ends the requests of this step with finish_reason "abort" and leaves the others and the
// thread running.
void EngineCore::step() {
  SchedulerOutput scheduler_output = scheduler_.schedule();
  if (scheduler_output.empty()) {
    // Only reachable when no request fits the KV cache, which the engine's startup check
    // on num_blocks rules out; sleep instead of spinning.
    VLLM_LOG_WARN("nothing could be scheduled ({} waiting, {} free blocks)",
                  scheduler_.num_waiting(), scheduler_.kv_cache_manager().num_free_blocks());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return;
  }

  std::vector<std::string> request_ids;
  // request id -> first scheduled time, for the outputs of this step
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> first_scheduled;
  const auto scheduled_at = std::chrono::steady_clock::now();
  for (const ScheduledRequest& scheduled : scheduler_output.scheduled) {
    request_ids.push_back(scheduled.request->request_id());
    if (!scheduled.request->first_scheduled_time.has_value()) {
      scheduled.request->first_scheduled_time = scheduled_at;
    }
    first_scheduled[scheduled.request->request_id()] = *scheduled.request->first_scheduled_time;
  }
  try {
    ModelRunnerOutput runner_output = model_runner_.execute(scheduler_output);
    record_prompt_logprobs(runner_output);
    std::vector<EngineCoreOutput> outputs =
        scheduler_.update_from_output(scheduler_output, runner_output);
    for (EngineCoreOutput& output : outputs) {
      const auto it = first_scheduled.find(output.request_id);
      if (it != first_scheduled.end()) output.first_scheduled_time = it->second;
    }
    attach_prompt_logprobs(outputs);
    update_stats(scheduler_output, static_cast<int64_t>(runner_output.sampled.size()));
    publish(std::move(outputs));
  } catch (const std::exception& error) {
    VLLM_LOG_ERROR("engine step failed for requests [{}]: {}", fmt::join(request_ids, ", "),
                   error.what());
    std::vector<EngineCoreOutput> failed = scheduler_.finish_requests(
        request_ids, RequestStatus::FINISHED_ABORTED, std::string(error.what()));
    update_stats(scheduler_output, 0);
    publish(std::move(failed));
  }
}

// Chunks arrive in position order; a preempted request recomputes its prompt, so positions
// already recorded are skipped.
void EngineCore::record_prompt_logprobs(ModelRunnerOutput& runner_output) {
  for (auto& [request_id, chunk] : runner_output.prompt_logprobs) {
    std::vector<TokenLogprobs>& recorded = prompt_logprobs_[request_id];
    const int64_t num_recorded = static_cast<int64_t>(recorded.size());
    VLLM_CHECK(chunk.first_position <= num_recorded,
               "request {} scored prompt position {} before position {}", request_id,
               chunk.first_position, num_recorded);
    for (size_t i = 0; i < chunk.logprobs.size(); ++i) {
      if (chunk.first_position + static_cast<int64_t>(i) < num_recorded) continue;
      recorded.push_back(std::move(chunk.logprobs[i]));
    }
  }
}

// Prompt logprobs go out with the first output of a request, which follows its whole prefill.
void EngineCore::attach_prompt_logprobs(std::vector<EngineCoreOutput>& outputs) {
  for (EngineCoreOutput& output : outputs) {
    auto it = prompt_logprobs_.find(output.request_id);
    if (it == prompt_logprobs_.end()) continue;
    output.prompt_logprobs = std::move(it->second);
    prompt_logprobs_.erase(it);
  }
}

void EngineCore::publish(std::vector<EngineCoreOutput> outputs) {
  for (const EngineCoreOutput& output : outputs) {
    if (output.finished()) prompt_logprobs_.erase(output.request_id);
  }
  if (outputs.empty()) return;
  {
    std::lock_guard<std::mutex> lock(output_mutex_);
    for (EngineCoreOutput& output : outputs) outputs_.push_back(std::move(output));
  }
  output_cv_.notify_all();
}

void EngineCore::refresh_stats() {
  const SchedulerStats& scheduler_stats = scheduler_.stats();
  std::lock_guard<std::mutex> lock(stats_mutex_);
  stats_.num_steps = scheduler_stats.num_steps;
  stats_.num_preemptions = scheduler_stats.num_preemptions;
  stats_.max_running_in_step = scheduler_stats.max_running_in_step;
  stats_.num_multi_step_prefills = scheduler_stats.num_multi_step_prefills;
  stats_.num_running = scheduler_.num_running();
  stats_.num_waiting = scheduler_.num_waiting();
  stats_.num_free_blocks = scheduler_.kv_cache_manager().num_free_blocks();
  const PrefixCacheStats& prefix_cache = scheduler_.kv_cache_manager().prefix_cache_stats();
  stats_.prefix_cache_queries = prefix_cache.queries;
  stats_.prefix_cache_hits = prefix_cache.hits;
}

void EngineCore::update_stats(const SchedulerOutput& scheduler_output,
                              int64_t num_generated_tokens) {
  refresh_stats();
  const SchedulerStats& scheduler_stats = scheduler_.stats();
  const KVCacheManager& kv_cache_manager = scheduler_.kv_cache_manager();
  VLLM_LOG_DEBUG("step {}: {} requests, {} tokens, {} preempted, KV cache usage {:.1f}%",
                 scheduler_stats.num_steps, scheduler_output.scheduled.size(),
                 scheduler_output.total_num_scheduled_tokens,
                 scheduler_output.preempted_request_ids.size(), kv_cache_manager.usage() * 100);

  // Prompt tokens are the scheduled tokens that did not produce a generated token.
  num_prompt_tokens_since_log_ +=
      scheduler_output.total_num_scheduled_tokens - num_generated_tokens;
  num_generated_tokens_since_log_ += num_generated_tokens;
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - last_log_time_).count();
  if (now - last_log_time_ >= kStatsLogInterval) {
    VLLM_LOG_INFO(
        "Avg prompt throughput: {:.1f} tokens/s, Avg generation throughput: {:.1f} tokens/s, "
        "Running: {} reqs, Waiting: {} reqs, KV cache usage: {:.1f}%, "
        "Prefix cache hit rate: {:.1f}%",
        num_prompt_tokens_since_log_ / seconds, num_generated_tokens_since_log_ / seconds,
        scheduler_.num_running(), scheduler_.num_waiting(), kv_cache_manager.usage() * 100,
        prefix_cache_hit_rate(kv_cache_manager.prefix_cache_stats()) * 100);
    last_log_time_ = now;
    num_prompt_tokens_since_log_ = 0;
    num_generated_tokens_since_log_ = 0;
  }
}

}  // namespace vllm
