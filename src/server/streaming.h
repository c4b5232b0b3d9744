// Server-sent events as the OpenAI API streams them: one "data: <json>" event per chunk,
// ended by "data: [DONE]".
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace vllm::server {

inline constexpr const char* kStreamDoneEvent = "data: [DONE]\n\n";

// Serializes one event; invalid UTF-8 in generated text becomes U+FFFD.
inline std::string sse_event(const nlohmann::ordered_json& chunk) {
  return "data: " + chunk.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
         "\n\n";
}

}  // namespace vllm::server
