// Error types shared by the library. Three tiers:
//   InvalidArgument  - bad input from a caller (prompt, sampling values, flags). Python sees
//                      ValueError; the server answers 400.
//   ModelLoadError   - a model file or directory that is missing, truncated, corrupt or of an
//                      unsupported kind. Python sees ValueError or FileNotFoundError.
//   InternalError    - a broken invariant inside the library (VLLM_CHECK). Never caused by
//                      input alone; Python sees RuntimeError, the server answers 500.
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace vllm {

class VllmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvalidArgument : public VllmError {
 public:
  using VllmError::VllmError;
};

class ModelLoadError : public VllmError {
 public:
  using VllmError::VllmError;
};

class InternalError : public VllmError {
 public:
  using VllmError::VllmError;
};

[[noreturn]] void throw_internal_error(const char* file, int line, const char* condition,
                                       const std::string& message);

}  // namespace vllm

// Always-on invariant check: VLLM_CHECK(num_blocks > 0, "num_blocks={}", num_blocks).
#define VLLM_CHECK(condition, ...)                                                    \
  do {                                                                                \
    if (!(condition)) [[unlikely]] {                                                  \
      ::vllm::throw_internal_error(__FILE__, __LINE__, #condition,                    \
                                   ::fmt::format(__VA_ARGS__));                       \
    }                                                                                 \
  } while (0)
