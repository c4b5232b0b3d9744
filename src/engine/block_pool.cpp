#include "engine/block_pool.h"

#include "core/errors.h"
#include "core/logging.h"

namespace vllm {

FreeKVCacheBlockQueue::FreeKVCacheBlockQueue(std::span<KVCacheBlock> blocks) {
  head_.next_free = &tail_;
  tail_.prev_free = &head_;
  for (KVCacheBlock& block : blocks) append(&block);
}

KVCacheBlock* FreeKVCacheBlockQueue::popleft() {
  VLLM_CHECK(num_free_blocks_ > 0, "popleft on an empty free block queue");
  KVCacheBlock* block = head_.next_free;
  remove(block);
  return block;
}

void FreeKVCacheBlockQueue::append(KVCacheBlock* block) {
  VLLM_CHECK(block->prev_free == nullptr && block->next_free == nullptr,
             "block {} is already in the free queue", block->block_id);
  KVCacheBlock* last = tail_.prev_free;
  last->next_free = block;
  block->prev_free = last;
  block->next_free = &tail_;
  tail_.prev_free = block;
  ++num_free_blocks_;
}

void FreeKVCacheBlockQueue::remove(KVCacheBlock* block) {
  VLLM_CHECK(block->prev_free != nullptr && block->next_free != nullptr,
             "block {} is not in the free queue", block->block_id);
  block->prev_free->next_free = block->next_free;
  block->next_free->prev_free = block->prev_free;
  block->prev_free = nullptr;
  block->next_free = nullptr;
  --num_free_blocks_;
}

std::vector<int32_t> FreeKVCacheBlockQueue::block_ids() const {
  std::vector<int32_t> ids;
  ids.reserve(static_cast<size_t>(num_free_blocks_));
  for (const KVCacheBlock* block = head_.next_free; block != &tail_; block = block->next_free) {
    ids.push_back(block->block_id);
  }
  return ids;
}

namespace {

std::vector<KVCacheBlock> make_blocks(int64_t num_blocks) {
  VLLM_CHECK(num_blocks >= 2, "a block pool needs the null block and one more, got {}",
             num_blocks);
  std::vector<KVCacheBlock> blocks(static_cast<size_t>(num_blocks));
  for (int64_t i = 0; i < num_blocks; ++i) blocks[i].block_id = static_cast<int32_t>(i);
  return blocks;
}

}  // namespace

BlockPool::BlockPool(int64_t num_blocks, bool enable_caching)
    : enable_caching_(enable_caching), blocks_(make_blocks(num_blocks)), free_queue_(blocks_) {
  KVCacheBlock* null_block = free_queue_.popleft();
  null_block->is_null = true;
  null_block->ref_cnt = 1;  // held forever so it never returns to the free queue
}

std::vector<KVCacheBlock*> BlockPool::get_new_blocks(int64_t num_blocks) {
  VLLM_CHECK(num_blocks <= get_num_free_blocks(), "requested {} blocks but only {} are free",
             num_blocks, get_num_free_blocks());
  std::vector<KVCacheBlock*> result;
  result.reserve(static_cast<size_t>(num_blocks));
  for (int64_t i = 0; i < num_blocks; ++i) {
    KVCacheBlock* block = free_queue_.popleft();
    VLLM_CHECK(block->ref_cnt == 0, "free block {} has ref_cnt {}", block->block_id,
               block->ref_cnt);
    maybe_evict_cached_block(block);
    block->ref_cnt = 1;
    result.push_back(block);
  }
  return result;
}

void BlockPool::maybe_evict_cached_block(KVCacheBlock* block) {
  if (!block->block_hash.has_value()) return;
  auto it = cached_block_hash_to_block_.find(*block->block_hash);
  VLLM_CHECK(it != cached_block_hash_to_block_.end(), "hashed block {} is not in the cache",
             block->block_id);
  std::vector<KVCacheBlock*>& same_hash = it->second;
  std::erase(same_hash, block);
  if (same_hash.empty()) cached_block_hash_to_block_.erase(it);
  block->block_hash.reset();
}

KVCacheBlock* BlockPool::get_cached_block(const BlockHash& block_hash) const {
  auto it = cached_block_hash_to_block_.find(block_hash);
  if (it == cached_block_hash_to_block_.end()) return nullptr;
  return it->second.front();
}

void BlockPool::cache_full_blocks(std::span<KVCacheBlock* const> blocks,
                                  std::span<const BlockHash> block_hashes,
                                  int64_t num_cached_blocks, int64_t num_full_blocks) {
  if (!enable_caching_ || num_cached_blocks >= num_full_blocks) return;
  VLLM_CHECK(num_full_blocks <= static_cast<int64_t>(blocks.size()) &&
                 num_full_blocks <= static_cast<int64_t>(block_hashes.size()),
             "caching {} full blocks with {} blocks and {} hashes", num_full_blocks,
             blocks.size(), block_hashes.size());
  for (int64_t i = num_cached_blocks; i < num_full_blocks; ++i) {
    KVCacheBlock* block = blocks[i];
    VLLM_CHECK(!block->is_null, "the null block cannot be cached");
    VLLM_CHECK(!block->block_hash.has_value(), "block {} is already cached", block->block_id);
    block->block_hash = block_hashes[i];
    cached_block_hash_to_block_[block_hashes[i]].push_back(block);
  }
}

void BlockPool::touch(std::span<KVCacheBlock* const> blocks) {
  for (KVCacheBlock* block : blocks) {
    // A free block of a cache hit leaves the queue so that it cannot be evicted.
    if (block->ref_cnt == 0 && !block->is_null) free_queue_.remove(block);
    ++block->ref_cnt;
  }
}

void BlockPool::free_blocks(std::span<KVCacheBlock* const> blocks) {
  for (KVCacheBlock* block : blocks) {
    VLLM_CHECK(!block->is_null, "the null block cannot be freed");
    VLLM_CHECK(block->ref_cnt > 0, "block {} freed with ref_cnt {}", block->block_id,
               block->ref_cnt);
    if (--block->ref_cnt == 0) free_queue_.append(block);
  }
}

bool BlockPool::reset_prefix_cache() {
  const int64_t num_used_blocks = num_blocks() - get_num_free_blocks();
  if (num_used_blocks != 1) {  // the null block is always in use
    VLLM_LOG_WARN("Failed to reset prefix cache because some blocks ({}) are not freed yet",
                  num_used_blocks - 1);
    return false;
  }
  cached_block_hash_to_block_.clear();
  for (KVCacheBlock& block : blocks_) block.block_hash.reset();
  VLLM_LOG_INFO("Successfully reset prefix cache");
  return true;
}

int64_t BlockPool::num_cached_blocks() const {
  int64_t count = 0;
  for (const auto& [hash, blocks] : cached_block_hash_to_block_) {
    count += static_cast<int64_t>(blocks.size());
  }
  return count;
}

double BlockPool::get_usage() const {
  const int64_t num_usable = num_blocks() - 1;
  return 1.0 - static_cast<double>(get_num_free_blocks()) / static_cast<double>(num_usable);
}

}  // namespace vllm
