// Shares one LLMEngine among all connections. Handlers add requests with a sink. One
// dispatcher thread calls LLMEngine::get_outputs and hands each RequestOutput to the sink
// of its request, which posts it to the connection's strand.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "vllm/engine.h"

namespace vllm::server {

class Metrics;

// Receives the cumulative outputs of one request, on the dispatcher thread; the last call
// has output.finished set. It must not block.
using OutputSink = std::function<void(RequestOutput output)>;

class EngineClient {
 public:
  EngineClient(LLMEngine& engine, Metrics& metrics);
  ~EngineClient();
  EngineClient(const EngineClient&) = delete;
  EngineClient& operator=(const EngineClient&) = delete;

  // Queues a request with a scheduling priority (lower first); throws InvalidArgument as
  // LLMEngine::add_request does, in which case the sink is never called.
  void add_request(const std::string& request_id, const PromptInput& prompt,
                   const SamplingParams& params, int priority, OutputSink sink);
  // Aborts a request; its sink still receives the final output (finish_reason "abort").
  void abort(const std::string& request_id);

  // Stops the dispatcher thread; sinks are not called afterwards. Call it before the
  // event loop the sinks post to is destroyed.
  void stop();

  LLMEngine& engine() { return engine_; }
  size_t num_in_flight() const;
  // Ids of the requests whose final output has not been delivered yet.
  std::vector<std::string> in_flight_ids() const;

 private:
  void dispatch_loop();

  LLMEngine& engine_;
  Metrics& metrics_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, OutputSink> sinks_;   // by request id
  std::atomic<bool> stopping_{false};
  std::thread dispatcher_;
};

}  // namespace vllm::server
