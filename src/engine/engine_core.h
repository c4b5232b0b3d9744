// The engine core: one thread that owns the scheduler, the KV cache and the model, and
// talks to frontends only through its input and output queues (vLLM v1's EngineCore with
// an in-process client).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include "engine/model_runner.h"
#include "engine/scheduler.h"
#include "models/model.h"
#include "vllm/engine.h"

namespace vllm {

class EngineCore {
 public:
  // Allocates the KV cache for config.num_blocks blocks of the model's geometry and starts
  // the engine-core thread. `num_threads` > 0 sets the kernels' thread count.
  EngineCore(std::unique_ptr<Model> model, const SchedulerConfig& config, int num_threads);
  // Stops the thread; requests still in flight are dropped.
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  // Queues a request. Precondition: its id is not in flight (callers check duplicates).
  void add_request(std::unique_ptr<Request> request);
  // Queues an abort; each request still in flight ends with finish_reason "abort".
  void abort_requests(std::vector<std::string> request_ids);

  // Waits up to `timeout` for outputs and returns all queued ones (maybe none).
  std::vector<EngineCoreOutput> get_outputs(std::chrono::milliseconds timeout);

  // Runs the scheduler's reset_prefix_cache on the engine-core thread and waits for it.
  bool reset_prefix_cache();

  EngineStats stats() const;
  const ModelConfig& model_config() const { return model_->config(); }

 private:
  // A new request, ids to abort, or a prefix-cache reset whose caller waits for the result.
  using Input = std::variant<std::unique_ptr<Request>, std::vector<std::string>,
                             std::shared_ptr<std::promise<bool>>>;

  void run_loop(int num_threads);
  // Adds new requests and applies aborts; returns the outputs of aborted requests.
  std::vector<EngineCoreOutput> apply_inputs(std::deque<Input>& inputs);
  void step();
  void publish(std::vector<EngineCoreOutput> outputs);
  void record_prompt_logprobs(ModelRunnerOutput& runner_output);
  void attach_prompt_logprobs(std::vector<EngineCoreOutput>& outputs);
  void refresh_stats();
  void update_stats(const SchedulerOutput& scheduler_output, int64_t num_generated_tokens);

  std::unique_ptr<Model> model_;
  KVCache kv_cache_;
  Scheduler scheduler_;  // touched by the engine-core thread only
  // Request id -> prompt logprobs computed so far, until the request's first output
  // (engine-core thread only).
  std::unordered_map<std::string, std::vector<TokenLogprobs>> prompt_logprobs_;
  ModelRunner model_runner_;

  std::mutex input_mutex_;
  std::condition_variable input_cv_;
  std::deque<Input> inputs_;
  bool stop_requested_ = false;

  std::mutex output_mutex_;
  std::condition_variable output_cv_;
  std::vector<EngineCoreOutput> outputs_;

  mutable std::mutex stats_mutex_;
  EngineStats stats_;

  // Periodic INFO log of throughput while busy.
  std::chrono::steady_clock::time_point last_log_time_;
  int64_t num_prompt_tokens_since_log_ = 0;
  int64_t num_generated_tokens_since_log_ = 0;

  std::thread thread_;  // last member: starts after everything above is built
};

}  // namespace vllm
