#include "engine/block_pool.h"

#include "core/errors.h"

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

BlockPool::BlockPool(int64_t num_blocks)
    : blocks_(make_blocks(num_blocks)), free_queue_(blocks_) {
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
    // TODO(prefix-caching): drop the block from the hash map before clearing its hash.
    block->block_hash.reset();
    block->ref_cnt = 1;
    result.push_back(block);
  }
  return result;
}

void BlockPool::free_blocks(std::span<KVCacheBlock* const> blocks) {
  for (KVCacheBlock* block : blocks) {
    VLLM_CHECK(!block->is_null, "the null block cannot be freed");
    VLLM_CHECK(block->ref_cnt > 0, "block {} freed with ref_cnt {}", block->block_id,
               block->ref_cnt);
    if (--block->ref_cnt == 0) free_queue_.append(block);
  }
}

double BlockPool::get_usage() const {
  const int64_t num_usable = num_blocks() - 1;
  return 1.0 - static_cast<double>(get_num_free_blocks()) / static_cast<double>(num_usable);
}

}  // namespace vllm
