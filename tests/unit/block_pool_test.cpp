#include "engine/block_pool.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/errors.h"

namespace vllm {
namespace {

std::vector<int32_t> ids_of(const std::vector<KVCacheBlock*>& blocks) {
  std::vector<int32_t> ids;
  for (const KVCacheBlock* block : blocks) ids.push_back(block->block_id);
  return ids;
}

TEST(BlockPool, NullBlockReserved) {
  BlockPool pool(5);
  EXPECT_EQ(pool.get_num_free_blocks(), 4);
  EXPECT_TRUE(pool.block(0).is_null);
  EXPECT_EQ(pool.free_block_ids(), (std::vector<int32_t>{1, 2, 3, 4}));
}

TEST(BlockPool, AllocatesFromHead) {
  BlockPool pool(5);
  std::vector<KVCacheBlock*> blocks = pool.get_new_blocks(2);
  EXPECT_EQ(ids_of(blocks), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(blocks[0]->ref_cnt, 1);
  EXPECT_EQ(blocks[1]->ref_cnt, 1);
  EXPECT_EQ(pool.get_num_free_blocks(), 2);
  EXPECT_EQ(pool.free_block_ids(), (std::vector<int32_t>{3, 4}));
}

TEST(BlockPool, FreedBlocksJoinTail) {
  BlockPool pool(5);
  std::vector<KVCacheBlock*> blocks = pool.get_new_blocks(3);  // 1, 2, 3
  std::vector<KVCacheBlock*> reversed = {blocks[2], blocks[0]};
  pool.free_blocks(reversed);
  EXPECT_EQ(pool.free_block_ids(), (std::vector<int32_t>{4, 3, 1}));
  EXPECT_EQ(blocks[2]->ref_cnt, 0);
  EXPECT_EQ(blocks[1]->ref_cnt, 1);
}

TEST(BlockPool, ReuseInLruOrder) {
  BlockPool pool(5);
  std::vector<KVCacheBlock*> first = pool.get_new_blocks(4);  // 1..4
  std::vector<KVCacheBlock*> order = {first[1], first[3], first[0], first[2]};
  pool.free_blocks(order);
  EXPECT_EQ(ids_of(pool.get_new_blocks(3)), (std::vector<int32_t>{2, 4, 1}));
  EXPECT_EQ(pool.free_block_ids(), (std::vector<int32_t>{3}));
}

TEST(BlockPool, SharedBlockFreedAtZero) {
  BlockPool pool(4);
  std::vector<KVCacheBlock*> blocks = pool.get_new_blocks(1);
  blocks[0]->ref_cnt = 2;  // as a second sequence sharing the block would
  pool.free_blocks(blocks);
  EXPECT_EQ(blocks[0]->ref_cnt, 1);
  EXPECT_EQ(pool.get_num_free_blocks(), 2);
  pool.free_blocks(blocks);
  EXPECT_EQ(blocks[0]->ref_cnt, 0);
  EXPECT_EQ(pool.get_num_free_blocks(), 3);
}

TEST(BlockPool, Usage) {
  BlockPool pool(5);
  EXPECT_DOUBLE_EQ(pool.get_usage(), 0.0);
  std::vector<KVCacheBlock*> blocks = pool.get_new_blocks(1);
  EXPECT_DOUBLE_EQ(pool.get_usage(), 0.25);
  pool.free_blocks(blocks);
  EXPECT_DOUBLE_EQ(pool.get_usage(), 0.0);
}

TEST(BlockPool, OverAllocationIsInternalError) {
  BlockPool pool(3);
  EXPECT_THROW(pool.get_new_blocks(3), InternalError);
  EXPECT_EQ(pool.get_num_free_blocks(), 2);
}

TEST(BlockPool, NullBlockCannotBeFreed) {
  BlockPool pool(3);
  std::vector<KVCacheBlock*> blocks = {pool.null_block()};
  EXPECT_THROW(pool.free_blocks(blocks), InternalError);
}

TEST(BlockPool, DoubleFreeIsInternalError) {
  BlockPool pool(3);
  std::vector<KVCacheBlock*> blocks = pool.get_new_blocks(1);
  pool.free_blocks(blocks);
  EXPECT_THROW(pool.free_blocks(blocks), InternalError);
}

}  // namespace
}  // namespace vllm
