#include "core/logging.h"

#include <cstdlib>
#include <mutex>
#include <string>

#include <spdlog/pattern_formatter.h>
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

// Prints the level as vLLM does (INFO, WARNING); spdlog's %l prints "info", "warning".
class LevelNameFormatter : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& message, const std::tm&,
              spdlog::memory_buf_t& destination) override {
    std::string_view name = "UNKNOWN";
    switch (message.level) {
      case spdlog::level::trace: name = "TRACE"; break;
      case spdlog::level::debug: name = "DEBUG"; break;
      case spdlog::level::info: name = "INFO"; break;
      case spdlog::level::warn: name = "WARNING"; break;
      case spdlog::level::err: name = "ERROR"; break;
      case spdlog::level::critical: name = "CRITICAL"; break;
      default: break;
    }
    destination.append(name.data(), name.data() + name.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LevelNameFormatter>();
  }
};

}  // namespace

spdlog::logger* logger() {
  static std::once_flag once;
  static std::shared_ptr<spdlog::logger> instance;
  std::call_once(once, [] {
    instance = spdlog::stderr_color_mt("vllm");
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<LevelNameFormatter>('*').set_pattern("%^%*%$ %m-%d %H:%M:%S [%s:%#] %v");
    instance->set_formatter(std::move(formatter));
    instance->set_level(level_from_env());
  });
  return instance.get();
}

}  // namespace vllm
