#include "core/logging.h"

#include <cstdlib>
#include <mutex>
#include <string>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace vllm {
namespace {

spdlog::level::level_enum level_from_env() {
  const char* value = std::getenv("VLLM_LOGGING_LEVEL");
  if (value == nullptr) return spdlog::level::info;
  std::string name(value);
  if (name == "DEBUG") return spdlog::level::debug;
  if (name == "WARNING" || name == "WARN") return spdlog::level::warn;
  if (name == "ERROR") return spdlog::level::err;
  if (name == "CRITICAL") return spdlog::level::critical;
  return spdlog::level::info;
}

}  // namespace

spdlog::logger* logger() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> instance;
  std::call_once(once, [] {
    instance = spdlog::stderr_color_mt("vllm");
    instance->set_pattern("%^%l%$ %m-%d %H:%M:%S [%s:%#] %v");
    instance->set_level(level_from_env());
  });
  return instance.get();
}

}  // namespace vllm
