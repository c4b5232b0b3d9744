#include "server/engine_client.h"

#include <chrono>

#include "core/errors.h"
#include "core/logging.h"
#include "server/metrics.h"

namespace vllm::server {

namespace {

// How long one get_outputs call waits; it bounds how late shutdown is noticed.
constexpr std::chrono::milliseconds kPollTimeout{50};

}  // namespace

EngineClient::EngineClient(LLMEngine& engine, Metrics& metrics)
    : engine_(engine), metrics_(metrics), dispatcher_([this] { dispatch_loop(); }) {}

EngineClient::~EngineClient() { stop(); }

void EngineClient::stop() {
  stopping_ = true;
  if (dispatcher_.joinable()) dispatcher_.join();
}

void EngineClient::add_request(const std::string& request_id, const PromptInput& prompt,
                               const SamplingParams& params, int priority, OutputSink sink) {
  // Both are registered first, because the dispatcher may see the first output before
  // add_request returns. A duplicate id is rejected before it can replace the sink or the
  // metrics entry of the request in flight.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!sinks_.try_emplace(request_id, std::move(sink)).second) {
      throw InvalidArgument(fmt::format("Request id {} already running.", request_id));
    }
  }
  metrics_.on_request_added(request_id);
  try {
    engine_.add_request(request_id, prompt, params, priority);
  } catch (...) {
    metrics_.on_request_rejected(request_id);
    std::lock_guard<std::mutex> lock(mutex_);
    sinks_.erase(request_id);
    throw;
  }
}

void EngineClient::abort(const std::string& request_id) {
  VLLM_LOG_DEBUG("aborting request {}", request_id);
  engine_.abort_request({request_id});
}

size_t EngineClient::num_in_flight() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return sinks_.size();
}

std::vector<std::string> EngineClient::in_flight_ids() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> ids;
  ids.reserve(sinks_.size());
  for (const auto& [request_id, sink] : sinks_) ids.push_back(request_id);
  return ids;
}

void EngineClient::dispatch_loop() {
  while (!stopping_) {
    std::vector<RequestOutput> outputs = engine_.get_outputs(kPollTimeout);
    for (RequestOutput& output : outputs) {
      metrics_.on_output(output);
      OutputSink sink;
      {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = sinks_.find(output.request_id);
        if (it == sinks_.end()) continue;
        if (output.finished) {
          sink = std::move(it->second);
          sinks_.erase(it);
        } else {
          sink = it->second;
        }
      }
      sink(std::move(output));
    }
  }
}

}  // namespace vllm::server
