// Pool of KV cache blocks with reference counts and an LRU free queue (vLLM v1's BlockPool).
//
// Block 0 is the null block: it is never handed out, and padded block-table entries
// point at it. Freed blocks go to the tail of the free queue and allocation takes from the
// head, so the least recently freed block is reused first. A freed block keeps its
// block_hash until it is reused, which is what prefix caching will look up.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace vllm {

struct KVCacheBlock {
  int32_t block_id = 0;
  int32_t ref_cnt = 0;
  // Hash of the block's tokens and its parent's hash once the block is full; unused until
  // prefix caching lands.
  std::optional<uint64_t> block_hash;
  bool is_null = false;
  // Links of the free queue; both null while the block is in use.
  KVCacheBlock* prev_free = nullptr;
  KVCacheBlock* next_free = nullptr;
};

// Doubly linked list of free blocks through KVCacheBlock::prev_free/next_free, so a block
// can also leave from the middle (a prefix-cache hit) in O(1).
class FreeKVCacheBlockQueue {
 public:
  explicit FreeKVCacheBlockQueue(std::span<KVCacheBlock> blocks);
  KVCacheBlock* popleft();                 // precondition: num_free_blocks() > 0
  void append(KVCacheBlock* block);        // precondition: block is not in the queue
  void remove(KVCacheBlock* block);        // precondition: block is in the queue
  int64_t num_free_blocks() const { return num_free_blocks_; }
  std::vector<int32_t> block_ids() const;  // head to tail, for tests and debugging

 private:
  KVCacheBlock head_;  // sentinels; never handed out
  KVCacheBlock tail_;
  int64_t num_free_blocks_ = 0;
};

class BlockPool {
 public:
  explicit BlockPool(int64_t num_blocks);  // precondition: num_blocks >= 2 (null block + 1)
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // Takes `num_blocks` blocks from the head of the free queue with ref_cnt 1, clearing any
  // old hash. Precondition: num_blocks <= get_num_free_blocks().
  std::vector<KVCacheBlock*> get_new_blocks(int64_t num_blocks);

  // Drops one reference of each block; blocks reaching 0 join the free-queue tail in the
  // given order. Precondition: every block has ref_cnt > 0 and is not the null block.
  void free_blocks(std::span<KVCacheBlock* const> blocks);

  int64_t get_num_free_blocks() const { return free_queue_.num_free_blocks(); }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  // Fraction of usable blocks (all but the null block) in use, in [0, 1].
  double get_usage() const;
  KVCacheBlock* null_block() { return &blocks_[0]; }
  const KVCacheBlock& block(int32_t block_id) const { return blocks_.at(block_id); }
  std::vector<int32_t> free_block_ids() const { return free_queue_.block_ids(); }

 private:
  std::vector<KVCacheBlock> blocks_;  // [num_blocks], indexed by block_id; never resized
  FreeKVCacheBlockQueue free_queue_;
};

}  // namespace vllm
