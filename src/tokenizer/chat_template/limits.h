// Limits that keep a hostile chat template from exhausting memory, stack or time. Each
// violation raises InvalidArgument naming the constant, so a caller can tell which one.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vllm::jinja {

// Maximum size of a template's source text.
inline constexpr size_t kMaxTemplateSourceBytes = 1 << 20;  // 1 MiB
// Maximum nesting of expressions and statements in the parser, and of macro calls at render
// time. Both recurse on the C++ stack, so this bounds stack use.
inline constexpr int kMaxRecursionDepth = 256;
// Maximum size of the rendered output and of any single string or list built while rendering.
inline constexpr size_t kMaxOutputBytes = 16u << 20;  // 16 MiB
// Maximum number of loop iterations, summed over all loops of one render.
inline constexpr int64_t kMaxLoopIterations = 1'000'000;

}  // namespace vllm::jinja
