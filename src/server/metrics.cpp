#include "server/metrics.h"

#include <algorithm>

#include <fmt/format.h>

namespace vllm::server {

namespace {

std::string escape_label(const std::string& value) {
  std::string escaped;
  for (char c : value) {
    if (c == '\\' || c == '"') escaped += '\\';
    if (c == '\n') {
      escaped += "\\n";
      continue;
    }
    escaped += c;
  }
  return escaped;
}

}  // namespace

Histogram::Histogram(std::vector<double> upper_bounds)
    : upper_bounds_(std::move(upper_bounds)), bucket_counts_(upper_bounds_.size(), 0) {}

void Histogram::observe(double value) {
  const auto it = std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value);
  if (it != upper_bounds_.end()) ++bucket_counts_[it - upper_bounds_.begin()];
  ++count_;
  sum_ += value;
}

void Histogram::render(std::string& text, const std::string& name,
                       const std::string& labels) const {
  int64_t cumulative = 0;
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    cumulative += bucket_counts_[i];
    fmt::format_to(std::back_inserter(text), "{}_bucket{{{},le=\"{}\"}} {}\n", name, labels,
                   upper_bounds_[i], cumulative);
  }
  fmt::format_to(std::back_inserter(text), "{}_bucket{{{},le=\"+Inf\"}} {}\n", name, labels,
                 count_);
  fmt::format_to(std::back_inserter(text), "{}_sum{{{}}} {}\n", name, labels, sum_);
  fmt::format_to(std::back_inserter(text), "{}_count{{{}}} {}\n", name, labels, count_);
}

// Bucket bounds in seconds, as vLLM's v1 metrics use them.
Metrics::Metrics(std::string model_name)
    : model_name_(std::move(model_name)),
      time_to_first_token_({0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
                            1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}),
      inter_token_latency_({0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0,
                            2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}),
      e2e_request_latency_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
                            40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}),
      request_queue_time_({0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
                           40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}) {}

void Metrics::on_request_added(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_[request_id].arrival = std::chrono::steady_clock::now();
}

void Metrics::on_request_rejected(const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.erase(request_id);
}

void Metrics::on_output(const RequestOutput& output) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = requests_.find(output.request_id);
  if (it == requests_.end()) return;
  RequestTiming& timing = it->second;

  if (!timing.queue_time_observed && output.metrics.time_in_queue.has_value()) {
    request_queue_time_.observe(*output.metrics.time_in_queue);
    timing.queue_time_observed = true;
  }
  if (!timing.prompt_counted) {
    prompt_tokens_total_ += static_cast<int64_t>(output.prompt_token_ids.size());
    timing.prompt_counted = true;
  }
  int64_t num_generated = 0;
  for (const CompletionOutput& completion : output.outputs) {
    num_generated += static_cast<int64_t>(completion.token_ids.size());
  }
  const int64_t num_new_tokens =
      std::max<int64_t>(0, num_generated - timing.num_generated_tokens);
  generation_tokens_total_ += num_new_tokens;
  timing.num_generated_tokens = std::max(timing.num_generated_tokens, num_generated);
  const double elapsed_s = std::chrono::duration<double>(now - timing.arrival).count();
  if (num_new_tokens > 0) {
    if (!timing.first_token_seen) {
      timing.first_token_seen = true;
      time_to_first_token_.observe(elapsed_s);
    } else {
      inter_token_latency_.observe(std::chrono::duration<double>(now - timing.last_token).count());
    }
    timing.last_token = now;
  }

  if (output.finished) {
    for (const CompletionOutput& completion : output.outputs) {
      ++request_success_total_[completion.finish_reason.value_or("abort")];
    }
    e2e_request_latency_.observe(elapsed_s);
    requests_.erase(it);
  }
}

std::string Metrics::render(const EngineStats& stats) const {
  const std::string labels = fmt::format("model_name=\"{}\",engine=\"0\"",
                                         escape_label(model_name_));
  const double kv_cache_usage =
      stats.num_total_blocks > 0
          ? 1.0 - static_cast<double>(stats.num_free_blocks) / stats.num_total_blocks
          : 0.0;
  std::string text;
  auto add = [&](const char* name, const char* type, const char* help, auto value) {
    fmt::format_to(std::back_inserter(text), "# HELP {} {}\n# TYPE {} {}\n{}{{{}}} {}\n", name,
                   help, name, type, name, labels, value);
  };
  add("vllm:num_requests_running", "gauge", "Number of requests in model execution batches.",
      stats.num_running);
  add("vllm:num_requests_waiting", "gauge", "Number of requests waiting to be processed.",
      stats.num_waiting);
  add("vllm:kv_cache_usage_perc", "gauge", "KV-cache usage. 1 means 100 percent usage.",
      kv_cache_usage);
  add("vllm:num_preemptions_total", "counter", "Cumulative number of preemptions.",
      stats.num_preemptions);
  add("vllm:prefix_cache_queries_total", "counter",
      "Prefix cache queries, in terms of number of queried tokens.",
      stats.prefix_cache_queries);
  add("vllm:prefix_cache_hits_total", "counter",
      "Prefix cache hits, in terms of number of cached tokens.", stats.prefix_cache_hits);

  std::lock_guard<std::mutex> lock(mutex_);
  add("vllm:prompt_tokens_total", "counter", "Number of prefill tokens processed.",
      prompt_tokens_total_);
  add("vllm:generation_tokens_total", "counter", "Number of generation tokens processed.",
      generation_tokens_total_);

  text +=
      "# HELP vllm:request_success_total Count of successfully processed requests.\n"
      "# TYPE vllm:request_success_total counter\n";
  for (const char* reason : {"stop", "length", "abort"}) {
    const auto it = request_success_total_.find(reason);
    fmt::format_to(std::back_inserter(text),
                   "vllm:request_success_total{{{},finished_reason=\"{}\"}} {}\n", labels,
                   reason, it == request_success_total_.end() ? 0 : it->second);
  }

  text +=
      "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n"
      "# TYPE vllm:time_to_first_token_seconds histogram\n";
  time_to_first_token_.render(text, "vllm:time_to_first_token_seconds", labels);
  text +=
      "# HELP vllm:inter_token_latency_seconds Histogram of inter-token latency in seconds.\n"
      "# TYPE vllm:inter_token_latency_seconds histogram\n";
  inter_token_latency_.render(text, "vllm:inter_token_latency_seconds", labels);
  text +=
      "# HELP vllm:e2e_request_latency_seconds Histogram of e2e request latency in seconds.\n"
      "# TYPE vllm:e2e_request_latency_seconds histogram\n";
  e2e_request_latency_.render(text, "vllm:e2e_request_latency_seconds", labels);
  text +=
      "# HELP vllm:request_queue_time_seconds Histogram of time spent in WAITING phase for "
      "request.\n"
      "# TYPE vllm:request_queue_time_seconds histogram\n";
  request_queue_time_.render(text, "vllm:request_queue_time_seconds", labels);
  return text;
}

}  // namespace vllm::server
