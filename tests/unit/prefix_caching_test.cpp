// Prefix caching in the block pool and KV cache manager, with exact block ids and
// eviction order (after vLLM's tests/v1/core/test_prefix_caching.py). Block size 4.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "engine/block_hash.h"
#include "engine/kv_cache_manager.h"

namespace vllm {
namespace {

using Ids = std::vector<int32_t>;
constexpr int64_t kBlockSize = 4;

Request make_request(const std::string& id, std::vector<int32_t> tokens,
                     std::optional<std::string> cache_salt = std::nullopt) {
  Request request(id, std::move(tokens), SamplingParams{}, 16, std::nullopt, 0);
  request.cache_salt = std::move(cache_salt);
  return request;
}

std::vector<int32_t> range(int32_t first, int32_t count) {
  std::vector<int32_t> tokens(count);
  std::iota(tokens.begin(), tokens.end(), first);
  return tokens;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Ids ids_of(const ComputedBlocks& computed) {
  Ids ids;
  for (const KVCacheBlock* block : computed.blocks) ids.push_back(block->block_id);
  return ids;
}

// Looks up the cache, then allocates the rest of the prompt, as the scheduler does.
std::optional<Ids> schedule_prompt(KVCacheManager& manager, Request& request,
                                   ComputedBlocks* hit = nullptr) {
  ComputedBlocks computed = manager.get_computed_blocks(request);
  if (hit != nullptr) *hit = computed;
  std::optional<Ids> new_ids = manager.allocate_slots(
      request, request.num_tokens() - computed.num_computed_tokens, computed);
  if (new_ids.has_value()) request.num_computed_tokens = request.num_tokens();
  return new_ids;
}

TEST(BlockHash, ChainDependsOnEveryInput) {
  const std::vector<int32_t> tokens = {1, 2, 3, 4};
  const BlockHash first = hash_block_tokens(std::nullopt, tokens, {});
  EXPECT_EQ(first, hash_block_tokens(std::nullopt, tokens, {}));
  EXPECT_NE(first, hash_block_tokens(std::nullopt, std::vector<int32_t>{1, 2, 3, 5}, {}));
  EXPECT_NE(first, hash_block_tokens(first, tokens, {}));
  EXPECT_NE(first, hash_block_tokens(std::nullopt, tokens, BlockExtraKeys{"salt"}));
  EXPECT_NE(hash_block_tokens(std::nullopt, tokens, BlockExtraKeys{""}), first);
}

TEST(BlockHash, SaltChangesWholeChain) {
  std::vector<BlockHash> plain;
  std::vector<BlockHash> salted;
  const std::vector<int32_t> tokens = range(1, 10);
  update_block_hashes(plain, tokens, kBlockSize, std::nullopt);
  update_block_hashes(salted, tokens, kBlockSize, std::string("a"));
  ASSERT_EQ(plain.size(), 2u);  // the partial third block has no hash
  ASSERT_EQ(salted.size(), 2u);
  EXPECT_NE(plain[0], salted[0]);
  EXPECT_NE(plain[1], salted[1]);
  EXPECT_EQ(plain[1], hash_block_tokens(plain[0], std::vector<int32_t>{5, 6, 7, 8}, {}));
}

TEST(PrefixCaching, SharedPrefixHits) {
  KVCacheManager manager(11, kBlockSize);  // blocks 1..10
  const std::vector<int32_t> common = range(1, 12);
  Request a = make_request("a", concat(common, {100, 101, 102}));
  ComputedBlocks hit;
  EXPECT_EQ(schedule_prompt(manager, a, &hit), (Ids{1, 2, 3, 4}));
  EXPECT_TRUE(hit.blocks.empty());
  EXPECT_EQ(manager.block_pool().num_cached_blocks(), 3);  // block 4 is partial

  Request b = make_request("b", concat(common, {200, 201}));
  EXPECT_EQ(schedule_prompt(manager, b, &hit), (Ids{5}));
  EXPECT_EQ(ids_of(hit), (Ids{1, 2, 3}));
  EXPECT_EQ(hit.num_computed_tokens, 12);
  EXPECT_EQ(manager.get_block_ids("b"), (Ids{1, 2, 3, 5}));
  for (int32_t id : {1, 2, 3}) EXPECT_EQ(manager.block_pool().block(id).ref_cnt, 2) << id;
  EXPECT_EQ(manager.block_pool().block(4).ref_cnt, 1);
  EXPECT_EQ(manager.prefix_cache_stats().queries, 15 + 14);
  EXPECT_EQ(manager.prefix_cache_stats().hits, 12);
}

TEST(PrefixCaching, FreeOrderAndReuse) {
  KVCacheManager manager(11, kBlockSize);
  const std::vector<int32_t> common = range(1, 12);
  Request a = make_request("a", concat(common, {100, 101, 102}));
  Request b = make_request("b", concat(common, {200, 201}));
  ASSERT_TRUE(schedule_prompt(manager, a).has_value());
  ASSERT_TRUE(schedule_prompt(manager, b).has_value());
  manager.free(a);  // only block 4 reaches ref_cnt 0
  EXPECT_EQ(manager.block_pool().free_block_ids(), (Ids{6, 7, 8, 9, 10, 4}));
  manager.free(b);  // tail first: 5, then the shared prefix from its end
  EXPECT_EQ(manager.block_pool().free_block_ids(), (Ids{6, 7, 8, 9, 10, 4, 5, 3, 2, 1}));
  for (int32_t id : {1, 2, 3}) EXPECT_EQ(manager.block_pool().block(id).ref_cnt, 0) << id;

  // Freed blocks keep their hashes: a third request takes them out of the free queue.
  Request c = make_request("c", concat(common, {300}));
  ComputedBlocks hit;
  EXPECT_EQ(schedule_prompt(manager, c, &hit), (Ids{6}));
  EXPECT_EQ(ids_of(hit), (Ids{1, 2, 3}));
  EXPECT_EQ(manager.block_pool().free_block_ids(), (Ids{7, 8, 9, 10, 4, 5}));
  for (int32_t id : {1, 2, 3}) EXPECT_EQ(manager.block_pool().block(id).ref_cnt, 1) << id;
}

TEST(PrefixCaching, LastTokenAlwaysComputed) {
  KVCacheManager manager(11, kBlockSize);
  Request a = make_request("a", range(1, 8));  // exactly two full blocks
  EXPECT_EQ(schedule_prompt(manager, a), (Ids{1, 2}));
  EXPECT_EQ(manager.block_pool().num_cached_blocks(), 2);

  ComputedBlocks hit;
  Request same = make_request("same", range(1, 8));
  EXPECT_EQ(schedule_prompt(manager, same, &hit), (Ids{3}));
  EXPECT_EQ(ids_of(hit), (Ids{1}));  // k full blocks hit k - 1
  EXPECT_EQ(hit.num_computed_tokens, 4);

  Request longer = make_request("longer", range(1, 9));
  EXPECT_EQ(schedule_prompt(manager, longer, &hit), (Ids{4}));
  EXPECT_EQ(ids_of(hit), (Ids{1, 2}));
  EXPECT_EQ(hit.num_computed_tokens, 8);
}

TEST(PrefixCaching, PartialBlockCachedOnceFull) {
  KVCacheManager manager(11, kBlockSize);
  Request a = make_request("a", range(1, 6));
  EXPECT_EQ(schedule_prompt(manager, a), (Ids{1, 2}));
  EXPECT_EQ(manager.block_pool().num_cached_blocks(), 1);

  ComputedBlocks hit;
  Request same = make_request("same", range(1, 6));
  EXPECT_EQ(schedule_prompt(manager, same, &hit), (Ids{3}));
  EXPECT_EQ(ids_of(hit), (Ids{1}));  // no hit on the partial block 2

  // Two decode steps fill block 2 with tokens 7, 8; it is cached when allocated for them.
  for (int32_t token : {7, 8}) {
    a.append_output_token(token);
    ASSERT_TRUE(manager.allocate_slots(a, 1).has_value());
    a.num_computed_tokens = a.num_tokens();
  }
  EXPECT_TRUE(manager.block_pool().block(2).block_hash.has_value());
  Request follow = make_request("follow", range(1, 9));
  EXPECT_EQ(schedule_prompt(manager, follow, &hit), (Ids{4}));
  EXPECT_EQ(ids_of(hit), (Ids{1, 2}));
}

TEST(PrefixCaching, EvictsLeastRecentTailFirst) {
  KVCacheManager manager(6, kBlockSize);  // blocks 1..5
  Request a = make_request("a", range(1, 13));
  EXPECT_EQ(schedule_prompt(manager, a), (Ids{1, 2, 3, 4}));
  manager.free(a);
  EXPECT_EQ(manager.block_pool().free_block_ids(), (Ids{5, 4, 3, 2, 1}));

  // Three fresh blocks: 5 (never used), then a's tail blocks 4 and 3 are evicted.
  Request b = make_request("b", range(100, 12));
  EXPECT_EQ(schedule_prompt(manager, b), (Ids{5, 4, 3}));
  EXPECT_EQ(manager.block_pool().block(3).block_hash, b.block_hashes[2]);
  manager.free(b);

  ComputedBlocks hit;
  Request again = make_request("again", range(1, 13));
  ASSERT_TRUE(schedule_prompt(manager, again, &hit).has_value());
  EXPECT_EQ(ids_of(hit), (Ids{1, 2}));  // a's third block was evicted
}

TEST(PrefixCaching, AllocationCountsFreeHitBlocks) {
  KVCacheManager manager(4, kBlockSize);  // blocks 1..3
  Request a = make_request("a", range(1, 9));
  ASSERT_TRUE(schedule_prompt(manager, a).has_value());  // 1, 2, 3
  manager.free(a);
  // b hits blocks 1, 2 (free) and needs two more blocks: only block 3 is left.
  Request b = make_request("b", concat(range(1, 8), {50, 51, 52, 53, 54}));
  ComputedBlocks hit = manager.get_computed_blocks(b);
  EXPECT_EQ(ids_of(hit), (Ids{1, 2}));
  EXPECT_FALSE(manager.allocate_slots(b, 5, hit).has_value());
  EXPECT_EQ(manager.num_free_blocks(), 3);
  EXPECT_EQ(manager.block_pool().block(1).ref_cnt, 0);
  EXPECT_TRUE(manager.get_block_ids("b").empty());
}

TEST(PrefixCaching, CacheSaltIsolates) {
  KVCacheManager manager(11, kBlockSize);
  Request a = make_request("a", range(1, 9), std::string("alice"));
  ASSERT_TRUE(schedule_prompt(manager, a).has_value());
  Request other = make_request("other", range(1, 9), std::string("bob"));
  Request none = make_request("none", range(1, 9));
  Request same = make_request("same", range(1, 9), std::string("alice"));
  EXPECT_TRUE(manager.get_computed_blocks(other).blocks.empty());
  EXPECT_TRUE(manager.get_computed_blocks(none).blocks.empty());
  EXPECT_EQ(ids_of(manager.get_computed_blocks(same)), (Ids{1, 2}));
}

TEST(PrefixCaching, SkipReadingStillCaches) {
  KVCacheManager manager(11, kBlockSize);
  Request a = make_request("a", range(1, 9));
  a.skip_reading_prefix_cache = true;  // as a prompt-logprobs request will
  ASSERT_TRUE(schedule_prompt(manager, a).has_value());
  Request b = make_request("b", range(1, 9));
  b.skip_reading_prefix_cache = true;
  EXPECT_TRUE(manager.get_computed_blocks(b).blocks.empty());
  Request c = make_request("c", range(1, 9));
  EXPECT_EQ(ids_of(manager.get_computed_blocks(c)), (Ids{1, 2}));
}

TEST(PrefixCaching, DisabledNeverHits) {
  KVCacheManager manager(11, kBlockSize, /*enable_caching=*/false);
  Request a = make_request("a", range(1, 9));
  ASSERT_TRUE(schedule_prompt(manager, a).has_value());
  EXPECT_EQ(manager.block_pool().num_cached_blocks(), 0);
  Request b = make_request("b", range(1, 9));
  EXPECT_TRUE(manager.get_computed_blocks(b).blocks.empty());
  EXPECT_EQ(manager.prefix_cache_stats().queries, 0);
}

TEST(PrefixCaching, ResetOnlyWhenIdle) {
  KVCacheManager manager(11, kBlockSize);
  Request a = make_request("a", range(1, 9));
  ASSERT_TRUE(schedule_prompt(manager, a).has_value());
  EXPECT_FALSE(manager.reset_prefix_cache());
  EXPECT_EQ(manager.block_pool().num_cached_blocks(), 2);
  manager.free(a);
  EXPECT_TRUE(manager.reset_prefix_cache());
  EXPECT_EQ(manager.block_pool().num_cached_blocks(), 0);
  EXPECT_FALSE(manager.block_pool().block(1).block_hash.has_value());
  Request b = make_request("b", range(1, 9));
  EXPECT_TRUE(manager.get_computed_blocks(b).blocks.empty());
}

TEST(PrefixCaching, PreemptedLookupsCountedApart) {
  KVCacheManager manager(11, kBlockSize);
  Request a = make_request("a", range(1, 8));
  ASSERT_TRUE(schedule_prompt(manager, a).has_value());
  manager.free(a);
  a.num_computed_tokens = 0;
  a.num_preemptions = 1;
  EXPECT_EQ(ids_of(manager.get_computed_blocks(a)), (Ids{1}));
  EXPECT_EQ(manager.prefix_cache_stats().queries, 8);
  EXPECT_EQ(manager.prefix_cache_stats().hits, 0);
  EXPECT_EQ(manager.prefix_cache_stats().preempted_queries, 8);
  EXPECT_EQ(manager.prefix_cache_stats().preempted_hits, 4);
}

}  // namespace
}  // namespace vllm
