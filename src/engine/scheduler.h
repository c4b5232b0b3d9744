// Continuous-batching scheduler with chunked prefill, prefix caching and preemption by
// recompute (vLLM v1's Scheduler with the FCFS or priority policy).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/kv_cache_manager.h"
#include "engine/request.h"
#include "engine/scheduler_output.h"

namespace vllm {

enum class SchedulingPolicy {
  FCFS,      // admission in arrival order; the last admitted running request is preempted
  PRIORITY,  // lowest (priority, arrival) admitted first; the highest one is preempted
};

struct SchedulerConfig {
  int64_t max_num_seqs = 256;             // cap on requests in the running batch
  int64_t max_num_batched_tokens = 2048;  // token budget of one step
  int64_t max_model_len = 2048;           // prompt + output tokens of one request
  int64_t num_blocks = 0;                 // KV cache blocks, the null block included
  int64_t block_size = 16;                // tokens per block
  bool enable_prefix_caching = true;
  bool enable_chunked_prefill = true;     // off: a prompt is scheduled whole or not at all
  SchedulingPolicy policy = SchedulingPolicy::FCFS;
};

struct SchedulerStats {
  int64_t num_steps = 0;
  int64_t num_preemptions = 0;
  int64_t max_running_in_step = 0;
  int64_t num_multi_step_prefills = 0;
};

class Scheduler {
 public:
  explicit Scheduler(const SchedulerConfig& config);

  // Queues a new request. Precondition: its id is not already scheduled.
  void add_request(std::unique_ptr<Request> request);
  SchedulerOutput schedule();
  // Applies a step's results: advances num_computed_tokens, appends sampled tokens, runs
  // the stop checks and frees finished requests. Returns outputs of requests that got a
  // token or finished.
  std::vector<EngineCoreOutput> update_from_output(const SchedulerOutput& scheduler_output,
                                                   const ModelRunnerOutput& runner_output);
  // Ends requests from outside a step (abort, or a failed step). Unknown ids are skipped.
  // Returns one finished output per request ended, carrying `error` when given.
  std::vector<EngineCoreOutput> finish_requests(const std::vector<std::string>& request_ids,
                                                RequestStatus status,
                                                const std::optional<std::string>& error = {});

  bool has_unfinished_requests() const { return !requests_.empty(); }
  std::vector<std::string> request_ids() const;  // every request in flight, in no order
  bool contains(const std::string& request_id) const { return requests_.count(request_id) > 0; }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  const SchedulerStats& stats() const { return stats_; }
  const KVCacheManager& kv_cache_manager() const { return kv_cache_manager_; }
  const SchedulerConfig& config() const { return config_; }
  // Forgets the prefix cache; false while any request holds blocks.
  bool reset_prefix_cache() { return kv_cache_manager_.reset_prefix_cache(); }

 private:
  bool schedule_running(SchedulerOutput& output, int64_t& token_budget);
  void schedule_waiting(SchedulerOutput& output, int64_t& token_budget);
  Request* pick_preemption_victim() const;
  void preempt(Request* request, SchedulerOutput& output);
  void enqueue_waiting(Request* request, bool front);
  void add_scheduled(SchedulerOutput& output, Request* request, int64_t num_new_tokens,
                     int64_t& token_budget);
  void count_multi_step_prefill(const Request& request, int64_t num_new_tokens);
  bool check_stop(Request& request) const;
  void remove_finished(Request* request);

  SchedulerConfig config_;
  KVCacheManager kv_cache_manager_;
  std::unordered_map<std::string, std::unique_ptr<Request>> requests_;
  // FCFS: arrival order, preempted requests return to the front. PRIORITY: sorted by
  // (priority, arrival_order), preempted requests included.
  std::deque<Request*> waiting_;
  std::vector<Request*> running_;  // in admission order; the last is preempted first
  std::unordered_set<std::string> multi_step_prefill_ids_;
  SchedulerStats stats_;
  int64_t next_arrival_order_ = 0;
};

}  // namespace vllm
