#include "engine/kv_cache_budget.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/errors.h"

namespace vllm {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kDefaultMaxBytes = 4 * kGiB;
constexpr double kDefaultFractionOfAvailable = 0.4;

// MemAvailable from /proc/meminfo in bytes, or 0 when it cannot be read.
int64_t mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string line;
  while (std::getline(meminfo, line)) {
    std::istringstream fields(line);
    std::string key;
    int64_t kib = 0;
    if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
  }
  return 0;
}

double to_gib(int64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(kGiB); }

}  // namespace

KVCacheBudget resolve_kv_cache_budget(int64_t kv_cache_memory_bytes) {
  if (kv_cache_memory_bytes > 0) return {kv_cache_memory_bytes, "kv_cache_memory_bytes"};

  if (const char* env = std::getenv("VLLM_CPU_KVCACHE_SPACE"); env != nullptr && *env != '\0') {
    char* end = nullptr;
    const double gib = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(gib > 0)) {
      throw InvalidArgument(fmt::format(
          "VLLM_CPU_KVCACHE_SPACE must be a positive number of GiB, got '{}'.", env));
    }
    return {static_cast<int64_t>(gib * static_cast<double>(kGiB)), "VLLM_CPU_KVCACHE_SPACE"};
  }

  const int64_t available = mem_available_bytes();
  const int64_t derived =
      std::min(kDefaultMaxBytes, static_cast<int64_t>(available * kDefaultFractionOfAvailable));
  if (derived <= 0) {
    throw InvalidArgument(
        "Could not size the KV cache: /proc/meminfo has no MemAvailable. Set "
        "`VLLM_CPU_KVCACHE_SPACE` (GiB) or `kv_cache_memory_bytes`.");
  }
  return {derived, fmt::format("derived: min(4 GiB, 40% of {:.2f} GiB available)",
                               to_gib(available))};
}

int64_t num_kv_cache_blocks(int64_t num_bytes, int64_t bytes_per_block, int64_t block_size,
                            int64_t max_model_len) {
  VLLM_CHECK(bytes_per_block > 0 && block_size > 0, "bytes_per_block={} block_size={}",
             bytes_per_block, block_size);
  const int64_t num_blocks = num_bytes / bytes_per_block;
  // One full-length sequence plus the null block, which is never handed out.
  const int64_t num_blocks_needed = (max_model_len + block_size - 1) / block_size + 1;
  if (num_blocks < num_blocks_needed) {
    const int64_t estimated_max_model_len = std::max<int64_t>(0, num_blocks - 1) * block_size;
    throw InvalidArgument(fmt::format(
        "To serve at least one request with the models's max seq len ({}), ({:.2f} GiB KV "
        "cache is needed, which is larger than the available KV cache memory ({:.2f} GiB). "
        "Based on the available memory, the estimated maximum model length is {}. Try "
        "increasing `VLLM_CPU_KVCACHE_SPACE` or decreasing `max_model_len` when initializing "
        "the engine.",
        max_model_len, to_gib(num_blocks_needed * bytes_per_block), to_gib(num_bytes),
        estimated_max_model_len));
  }
  return num_blocks;
}

}  // namespace vllm
