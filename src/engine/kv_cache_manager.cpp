#include "engine/kv_cache_manager.h"

#include <algorithm>

#include "core/errors.h"

namespace vllm {

KVCacheManager::KVCacheManager(int64_t num_blocks, int64_t block_size)
    : block_size_(block_size), block_pool_(num_blocks) {
  VLLM_CHECK(block_size > 0, "block_size must be positive, got {}", block_size);
}

std::optional<std::vector<int32_t>> KVCacheManager::allocate_slots(const Request& request,
                                                                   int64_t num_new_tokens) {
  VLLM_CHECK(num_new_tokens > 0, "allocate_slots for request {} with {} new tokens",
             request.request_id(), num_new_tokens);
  std::vector<KVCacheBlock*>& blocks = req_to_blocks_[request.request_id()];
  const int64_t num_tokens_needed = request.num_computed_tokens + num_new_tokens;
  const int64_t num_blocks_needed = (num_tokens_needed + block_size_ - 1) / block_size_;
  const int64_t num_new_blocks =
      std::max<int64_t>(0, num_blocks_needed - static_cast<int64_t>(blocks.size()));
  if (num_new_blocks > block_pool_.get_num_free_blocks()) {
    if (blocks.empty()) req_to_blocks_.erase(request.request_id());
    return std::nullopt;
  }

  std::vector<int32_t> new_block_ids;
  for (KVCacheBlock* block : block_pool_.get_new_blocks(num_new_blocks)) {
    blocks.push_back(block);
    new_block_ids.push_back(block->block_id);
  }
  return new_block_ids;
}

void KVCacheManager::free(const Request& request) {
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
