// Sizes the KV cache: the byte budget and the number of blocks it gives.
#pragma once

#include <cstdint>
#include <string>

namespace vllm {

struct KVCacheBudget {
  int64_t num_bytes = 0;
  std::string source;  // where the budget came from, for the startup log
};

// Resolves the KV cache budget: `kv_cache_memory_bytes` when positive, else
// VLLM_CPU_KVCACHE_SPACE in GiB, else min(4 GiB, 40% of MemAvailable in /proc/meminfo).
// Throws InvalidArgument for an unparsable or non-positive VLLM_CPU_KVCACHE_SPACE.
KVCacheBudget resolve_kv_cache_budget(int64_t kv_cache_memory_bytes);

// Returns the number of blocks (the null block included) that fit in `num_bytes`.
// Throws InvalidArgument, with the estimated max model length that would fit, when one
// max_model_len sequence does not fit.
int64_t num_kv_cache_blocks(int64_t num_bytes, int64_t bytes_per_block, int64_t block_size,
                            int64_t max_model_len);

}  // namespace vllm
