// Helpers shared by the tests that drive an LLMEngine to completion.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "vllm/engine.h"

namespace vllm::testing {

// Collects the last RequestOutput of every request until none is unfinished or `timeout`
// passes; a timeout fails the calling test.
inline std::map<std::string, RequestOutput> run_to_completion(
    LLMEngine& engine, std::chrono::milliseconds timeout,
    std::chrono::milliseconds poll_interval) {
  std::map<std::string, RequestOutput> results;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (engine.has_unfinished_requests() && std::chrono::steady_clock::now() < deadline) {
    for (RequestOutput& output : engine.get_outputs(poll_interval)) {
      results[output.request_id] = std::move(output);
    }
  }
  EXPECT_FALSE(engine.has_unfinished_requests()) << "timed out";
  return results;
}

}  // namespace vllm::testing
