// Maps requests to KV cache blocks (vLLM v1's KVCacheManager, one attention type).
//
// A request with num_computed_tokens = c that is scheduled for n new tokens needs
// ceil((c + n) / block_size) blocks. With block_size 4, c = 6, n = 3:
//
//   block table:  [ b7        ][ b2        ][ b9 (new)  ]
//   tokens:        0  1  2  3   4  5  6  7   8
//                  computed ----------|new -----|
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/block_pool.h"
#include "engine/request.h"

namespace vllm {

// Prefix-cache lookups in tokens, as vLLM's PrefixCacheStats: a lookup of a request
// recomputing after preemption is counted apart, and the hit rate uses the others.
struct PrefixCacheStats {
  int64_t requests = 0;
  int64_t queries = 0;  // tokens looked up (the request's num_tokens)
  int64_t hits = 0;     // tokens found
  int64_t preempted_requests = 0;
  int64_t preempted_queries = 0;
  int64_t preempted_hits = 0;
};

// A cache hit: the blocks holding the longest cached prefix and the tokens they hold.
struct ComputedBlocks {
  std::vector<KVCacheBlock*> blocks;
  int64_t num_computed_tokens = 0;
};

class KVCacheManager {
 public:
  KVCacheManager(int64_t num_blocks, int64_t block_size, bool enable_caching = true);

  // The longest prefix of the request's full blocks found in the cache, capped so that at
  // least the last token is computed (its logits are needed): a prompt of exactly k full
  // blocks hits at most k - 1. Takes no reference; pass the result to allocate_slots in
  // the same step. Empty when caching is off or the request skips cache reads.
  // Precondition: the request holds no blocks (num_computed_tokens == 0).
  ComputedBlocks get_computed_blocks(Request& request);

  // Adds `new_computed` (a cache hit of a request without blocks) to the block table and
  // grows it to hold num_computed_tokens + new_computed.num_computed_tokens +
  // num_new_tokens tokens, then caches the blocks those tokens fill. Returns the ids of the
  // freshly allocated blocks (possibly none), or nullopt, changing nothing, when too few
  // blocks are free. Precondition: num_new_tokens > 0.
  std::optional<std::vector<int32_t>> allocate_slots(Request& request, int64_t num_new_tokens,
                                                     const ComputedBlocks& new_computed = {});

  // Releases the request's blocks, last block first, so the tail of a sequence is evicted
  // before its prefix. Precondition: none (a request without blocks is a no-op).
  void free(const Request& request);

  // Forgets all cached blocks; false while any request holds blocks.
  bool reset_prefix_cache() { return block_pool_.reset_prefix_cache(); }

  // The request's block table. Precondition: none (empty for a request without blocks).
  std::vector<int32_t> get_block_ids(const std::string& request_id) const;

  double usage() const { return block_pool_.get_usage(); }
  int64_t num_free_blocks() const { return block_pool_.get_num_free_blocks(); }
  int64_t num_blocks() const { return block_pool_.num_blocks(); }
  int64_t block_size() const { return block_size_; }
  bool enable_caching() const { return block_pool_.enable_caching(); }
  const BlockPool& block_pool() const { return block_pool_; }
  const PrefixCacheStats& prefix_cache_stats() const { return prefix_cache_stats_; }

 private:
  int64_t block_size_;
  BlockPool block_pool_;
  std::unordered_map<std::string, std::vector<KVCacheBlock*>> req_to_blocks_;
  // Leading blocks of each request already entered in the cache.
  std::unordered_map<std::string, int64_t> num_cached_blocks_;
  PrefixCacheStats prefix_cache_stats_;
};

}  // namespace vllm
