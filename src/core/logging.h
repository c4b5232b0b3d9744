// The library's one logging facade, on spdlog. Lines look like vLLM's:
//   INFO 12-04 19:51:00 [engine_core.cpp:88] KV cache: 512.00 MiB, 1424 blocks
// INFO is for one-time facts and periodic engine stats, DEBUG for per-step detail.
// The level comes from VLLM_LOGGING_LEVEL (DEBUG, INFO, WARNING, ERROR), default INFO.
#pragma once

#include <spdlog/spdlog.h>

namespace vllm {

// Returns the process-wide "vllm" logger, creating it (stderr sink) on first use.
spdlog::logger* logger();

}  // namespace vllm

#define VLLM_LOG_DEBUG(...) SPDLOG_LOGGER_DEBUG(::vllm::logger(), __VA_ARGS__)
#define VLLM_LOG_INFO(...) SPDLOG_LOGGER_INFO(::vllm::logger(), __VA_ARGS__)
#define VLLM_LOG_WARN(...) SPDLOG_LOGGER_WARN(::vllm::logger(), __VA_ARGS__)
#define VLLM_LOG_ERROR(...) SPDLOG_LOGGER_ERROR(::vllm::logger(), __VA_ARGS__)
