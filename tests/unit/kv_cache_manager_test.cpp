#include "engine/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/errors.h"

namespace vllm {
namespace {

using Ids = std::vector<int32_t>;

Request make_request(const std::string& id, int num_prompt_tokens) {
  std::vector<int32_t> prompt(num_prompt_tokens);
  std::iota(prompt.begin(), prompt.end(), 1);
  return Request(id, prompt, SamplingParams{}, 16, std::nullopt, 0);
}

TEST(KVCacheManager, AllocatesCeilBlocks) {
  KVCacheManager manager(8, 4);  // 7 usable blocks of 4 tokens
  Request request = make_request("a", 6);
  std::optional<Ids> blocks = manager.allocate_slots(request, 6);
  ASSERT_TRUE(blocks.has_value());
  EXPECT_EQ(*blocks, (Ids{1, 2}));
  EXPECT_EQ(manager.get_block_ids("a"), (Ids{1, 2}));
  EXPECT_EQ(manager.num_free_blocks(), 5);
}

TEST(KVCacheManager, GrowsOnlyWhenBlockFull) {
  KVCacheManager manager(8, 4);
  Request request = make_request("a", 6);
  ASSERT_TRUE(manager.allocate_slots(request, 6).has_value());
  request.num_computed_tokens = 6;
  std::optional<Ids> same = manager.allocate_slots(request, 2);  // tokens 6, 7 fit block 2
  ASSERT_TRUE(same.has_value());
  EXPECT_TRUE(same->empty());
  request.num_computed_tokens = 8;
  std::optional<Ids> grown = manager.allocate_slots(request, 1);
  ASSERT_TRUE(grown.has_value());
  EXPECT_EQ(*grown, (Ids{3}));
  EXPECT_EQ(manager.get_block_ids("a"), (Ids{1, 2, 3}));
}

TEST(KVCacheManager, NulloptWhenExhausted) {
  KVCacheManager manager(4, 4);  // 3 usable blocks
  Request a = make_request("a", 8);
  Request b = make_request("b", 8);
  ASSERT_TRUE(manager.allocate_slots(a, 8).has_value());
  EXPECT_FALSE(manager.allocate_slots(b, 8).has_value());
  EXPECT_EQ(manager.num_free_blocks(), 1);
  EXPECT_TRUE(manager.get_block_ids("b").empty());
  std::optional<Ids> partial = manager.allocate_slots(b, 4);
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(*partial, (Ids{3}));
}

TEST(KVCacheManager, FreeReturnsTailFirst) {
  KVCacheManager manager(6, 2);  // 5 usable blocks
  Request a = make_request("a", 6);
  ASSERT_TRUE(manager.allocate_slots(a, 6).has_value());  // 1, 2, 3
  manager.free(a);
  EXPECT_EQ(manager.block_pool().free_block_ids(), (Ids{4, 5, 3, 2, 1}));
  EXPECT_TRUE(manager.get_block_ids("a").empty());
}

TEST(KVCacheManager, ReuseAfterFree) {
  KVCacheManager manager(6, 2);
  Request a = make_request("a", 6);
  Request b = make_request("b", 6);
  ASSERT_TRUE(manager.allocate_slots(a, 6).has_value());  // 1, 2, 3
  manager.free(a);
  std::optional<Ids> blocks = manager.allocate_slots(b, 6);
  ASSERT_TRUE(blocks.has_value());
  EXPECT_EQ(*blocks, (Ids{4, 5, 3}));
}

TEST(KVCacheManager, AllFreeAfterFinish) {
  KVCacheManager manager(10, 4);
  std::vector<Request> requests;
  for (int i = 0; i < 3; ++i) requests.push_back(make_request("r" + std::to_string(i), 5 + i));
  for (Request& request : requests) {
    ASSERT_TRUE(manager.allocate_slots(request, request.num_tokens()).has_value());
  }
  EXPECT_EQ(manager.num_free_blocks(), 3);
  EXPECT_DOUBLE_EQ(manager.usage(), 6.0 / 9.0);
  for (Request& request : requests) manager.free(request);
  EXPECT_EQ(manager.num_free_blocks(), 9);
  EXPECT_DOUBLE_EQ(manager.usage(), 0.0);
}

TEST(KVCacheManager, ZeroTokensIsInternalError) {
  KVCacheManager manager(4, 4);
  Request a = make_request("a", 4);
  EXPECT_THROW(manager.allocate_slots(a, 0), InternalError);
}

}  // namespace
}  // namespace vllm
