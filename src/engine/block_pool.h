// Pool of KV cache blocks with reference counts and an LRU free queue (vLLM v1's BlockPool).
//
// Block 0 is the null block: it is never handed out, and padded block-table entries
// point at it. Freed blocks go to the tail of the free queue and allocation takes from the
// head, so the least recently freed block is reused first. With prefix caching a full
// block is entered in a hash -> block map; it keeps its hash and stays in the map while
// free, so a later request with the same prefix can take it back out of the free queue
// (a cache hit). Only when the block is handed out for new tokens is it evicted from the map.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "engine/block_hash.h"

namespace vllm {

struct KVCacheBlock {
  int32_t block_id = 0;
  int32_t ref_cnt = 0;
  // Hash of the block's tokens and its parent's hash, set once the block is full and
  // cached; kept while the block is free until it is evicted.
  std::optional<BlockHash> block_hash;
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
  // precondition: num_blocks >= 2 (null block + 1)
  explicit BlockPool(int64_t num_blocks, bool enable_caching = true);
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // Takes `num_blocks` blocks from the head of the free queue with ref_cnt 1, evicting
  // any cached hash. Precondition: num_blocks <= get_num_free_blocks().
  std::vector<KVCacheBlock*> get_new_blocks(int64_t num_blocks);

  // A cached block with this hash (the first cached of equal ones), or nullptr.
  KVCacheBlock* get_cached_block(const BlockHash& block_hash) const;

  // Enters blocks[num_cached_blocks, num_full_blocks) in the cache under
  // block_hashes[i]. Precondition: those blocks are full, uncached and not null, and
  // block_hashes has at least num_full_blocks entries.
  void cache_full_blocks(std::span<KVCacheBlock* const> blocks,
                         std::span<const BlockHash> block_hashes, int64_t num_cached_blocks,
                         int64_t num_full_blocks);

  // Takes a reference on each block of a cache hit, removing free ones from the queue.
  void touch(std::span<KVCacheBlock* const> blocks);

  // Drops one reference of each block; blocks reaching 0 join the free-queue tail in the
  // given order. Precondition: every block has ref_cnt > 0 and is not the null block.
  void free_blocks(std::span<KVCacheBlock* const> blocks);

  // Forgets every cached hash. Returns false, changing nothing, while any block is in use
  // (vLLM's rule: a running request could otherwise cache a block twice).
  bool reset_prefix_cache();

  bool enable_caching() const { return enable_caching_; }
  int64_t get_num_free_blocks() const { return free_queue_.num_free_blocks(); }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  int64_t num_cached_blocks() const;  // blocks in the hash map, free or in use
  // Fraction of usable blocks (all but the null block) in use, in [0, 1].
  double get_usage() const;
  KVCacheBlock* null_block() { return &blocks_[0]; }
  const KVCacheBlock& block(int32_t block_id) const { return blocks_.at(block_id); }
  std::vector<int32_t> free_block_ids() const { return free_queue_.block_ids(); }

 private:
  // Drops a block about to be reused from the hash map (vLLM's _maybe_evict_cached_block).
  void maybe_evict_cached_block(KVCacheBlock* block);

  bool enable_caching_;
  std::vector<KVCacheBlock> blocks_;  // [num_blocks], indexed by block_id; never resized
  FreeKVCacheBlockQueue free_queue_;
  // Equal prefixes computed by two requests at once give two blocks with one hash; both
  // are kept, in caching order, and lookups return the first.
  std::unordered_map<BlockHash, std::vector<KVCacheBlock*>, BlockHashHasher>
      cached_block_hash_to_block_;
};

}  // namespace vllm
