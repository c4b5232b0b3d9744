// Prometheus metrics with vLLM's names (v1 engine), served as text at GET /metrics.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "vllm/engine.h"

namespace vllm::server {

// A cumulative histogram with fixed upper bounds, in Prometheus' text form.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  // Appends the _bucket, _sum and _count lines of `name` with the given labels.
  void render(std::string& text, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> upper_bounds_;
  std::vector<int64_t> bucket_counts_;   // [upper_bounds_.size()], not cumulative
  int64_t count_ = 0;
  double sum_ = 0.0;
};

class Metrics {
 public:
  explicit Metrics(std::string model_name);

  void on_request_added(const std::string& request_id);
  // Forgets a request that the engine rejected.
  void on_request_rejected(const std::string& request_id);
  // Counts prompt and generated tokens, time to first token, queue time and finished
  // requests.
  void on_output(const RequestOutput& output);
  // Returns the exposition text; gauges come from `stats`.
  std::string render(const EngineStats& stats) const;

 private:
  struct RequestTiming {
    std::chrono::steady_clock::time_point arrival;
    bool prompt_counted = false;
    std::chrono::steady_clock::time_point last_token;   // when the latest tokens arrived
    bool first_token_seen = false;
    int64_t num_generated_tokens = 0;
    bool queue_time_observed = false;
  };

  std::string model_name_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, RequestTiming> requests_;   // by request id
  int64_t prompt_tokens_total_ = 0;
  int64_t generation_tokens_total_ = 0;
  std::map<std::string, int64_t> request_success_total_;      // by finished_reason
  Histogram time_to_first_token_;
  Histogram inter_token_latency_;   // one sample per output that brings new tokens
  Histogram e2e_request_latency_;
  // Arrival to first scheduling, from RequestOutput::metrics; one sample per request that
  // was scheduled (a request aborted while waiting has none).
  Histogram request_queue_time_;
};

}  // namespace vllm::server
