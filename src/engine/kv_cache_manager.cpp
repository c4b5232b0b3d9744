#include "engine/kv_cache_manager.h"

#include <algorithm>

#include "core/errors.h"

namespace vllm {

KVCacheManager::KVCacheManager(int64_t num_blocks, int64_t block_size, bool enable_caching)
    : block_size_(block_size), block_pool_(num_blocks, enable_caching) {
  VLLM_CHECK(block_size > 0, "block_size must be positive, got {}", block_size);
}

ComputedBlocks KVCacheManager::get_computed_blocks(Request& request) {
  ComputedBlocks result;
  if (!block_pool_.enable_caching() || request.skip_reading_prefix_cache ||
      request.sampling_params().skip_reading_prefix_cache()) {
    return result;
  }
  VLLM_CHECK(!req_to_blocks_.count(request.request_id()),
             "get_computed_blocks for request {}, which holds blocks", request.request_id());

  update_block_hashes(request.block_hashes, request.all_token_ids(), block_size_,
                      request.cache_salt);
  // The last token is always recomputed so that the step produces its logits.
  const int64_t max_cache_hit_blocks = (request.num_tokens() - 1) / block_size_;
  for (int64_t i = 0; i < max_cache_hit_blocks; ++i) {
    KVCacheBlock* block = block_pool_.get_cached_block(request.block_hashes[i]);
    if (block == nullptr) break;
    result.blocks.push_back(block);
  }
  result.num_computed_tokens = static_cast<int64_t>(result.blocks.size()) * block_size_;

  const bool preempted = request.num_preemptions > 0;
  PrefixCacheStats& stats = prefix_cache_stats_;
  ++(preempted ? stats.preempted_requests : stats.requests);
  (preempted ? stats.preempted_queries : stats.queries) += request.num_tokens();
  (preempted ? stats.preempted_hits : stats.hits) += result.num_computed_tokens;
  return result;
}

std::optional<std::vector<int32_t>> KVCacheManager::allocate_slots(
    Request& request, int64_t num_new_tokens, const ComputedBlocks& new_computed) {
  VLLM_CHECK(num_new_tokens > 0, "allocate_slots for request {} with {} new tokens",
             request.request_id(), num_new_tokens);
  const std::string& id = request.request_id();
  const int64_t num_computed_tokens =
      request.num_computed_tokens + new_computed.num_computed_tokens;
  const int64_t num_tokens_needed = num_computed_tokens + num_new_tokens;
  const int64_t num_blocks_needed = (num_tokens_needed + block_size_ - 1) / block_size_;

  auto existing = req_to_blocks_.find(id);
  const int64_t num_held =
      existing == req_to_blocks_.end() ? 0 : static_cast<int64_t>(existing->second.size());
  VLLM_CHECK(new_computed.blocks.empty() || num_held == 0,
             "request {} got a cache hit while holding {} blocks", id, num_held);
  const int64_t num_new_blocks = std::max<int64_t>(
      0, num_blocks_needed - num_held - static_cast<int64_t>(new_computed.blocks.size()));
  // Hit blocks that are free leave the free queue, so they count against it too.
  const auto num_evictable_computed = static_cast<int64_t>(
      std::count_if(new_computed.blocks.begin(), new_computed.blocks.end(),
                    [](const KVCacheBlock* block) { return block->ref_cnt == 0; }));
  if (num_new_blocks > block_pool_.get_num_free_blocks() - num_evictable_computed) {
    return std::nullopt;
  }

  std::vector<KVCacheBlock*>& blocks = req_to_blocks_[id];
  if (!new_computed.blocks.empty()) {
    block_pool_.touch(new_computed.blocks);
    blocks.insert(blocks.end(), new_computed.blocks.begin(), new_computed.blocks.end());
    num_cached_blocks_[id] = static_cast<int64_t>(new_computed.blocks.size());
  }
  std::vector<int32_t> new_block_ids;
  for (KVCacheBlock* block : block_pool_.get_new_blocks(num_new_blocks)) {
    blocks.push_back(block);
    new_block_ids.push_back(block->block_id);
  }

  // Blocks this step fills are cached now, before the model runs: a request scheduled
  // later in the same step may hit them, since each layer writes the whole batch's K/V
  // before any attention reads it (vLLM relies on the same order).
  if (block_pool_.enable_caching()) {
    update_block_hashes(request.block_hashes, request.all_token_ids(), block_size_,
                        request.cache_salt);
    const int64_t num_full_blocks =
        std::min(num_tokens_needed, request.num_tokens()) / block_size_;
    int64_t& num_cached = num_cached_blocks_[id];
    block_pool_.cache_full_blocks(blocks, request.block_hashes, num_cached, num_full_blocks);
    num_cached = std::max(num_cached, num_full_blocks);
  }
  return new_block_ids;
}

void KVCacheManager::free(const Request& request) {
  num_cached_blocks_.erase(request.request_id());
  auto it = req_to_blocks_.find(request.request_id());
  if (it == req_to_blocks_.end()) return;
  std::vector<KVCacheBlock*> reversed(it->second.rbegin(), it->second.rend());
  block_pool_.free_blocks(reversed);
  req_to_blocks_.erase(it);
}

std::vector<int32_t> KVCacheManager::get_block_ids(const std::string& request_id) const {
  std::vector<int32_t> ids;
  auto it = req_to_blocks_.find(request_id);
  if (it == req_to_blocks_.end()) return ids;
  for (const KVCacheBlock* block : it->second) ids.push_back(block->block_id);
  return ids;
}

}  // namespace vllm
