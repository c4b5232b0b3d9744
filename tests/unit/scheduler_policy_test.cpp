// Scheduler features around the KV cache, driven by the fake model: prefix-cache sharing
// within one step, the priority policy, aborts at every stage, and preemption that reuses
// cached blocks. Outputs are checked against a scalar greedy reference.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <vector>

#include "engine/model_runner.h"
#include "fake_model.h"

namespace vllm {
namespace {

constexpr int64_t kVocabSize = 64;
constexpr int32_t kEosTokenId = 0;

std::vector<int32_t> make_prompt(int length, int salt) {
  std::vector<int32_t> prompt;
  for (int i = 0; i < length; ++i) prompt.push_back(1 + (i * 7 + salt * 13) % (kVocabSize - 1));
  return prompt;
}

SamplingParams greedy_params(int max_tokens) {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = max_tokens;
  params.ignore_eos = true;
  return params;
}

// The fake model's greedy continuation of `tokens`, computed without the engine.
std::vector<int32_t> reference_greedy(std::vector<int32_t> tokens, int max_tokens) {
  std::vector<int32_t> output;
  std::vector<float> row(kVocabSize);
  while (static_cast<int>(output.size()) < max_tokens) {
    testing::fake_logits(testing::fake_context_hash(tokens), row);
    const auto best = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    output.push_back(best);
    tokens.push_back(best);
  }
  return output;
}

SchedulerConfig config_of(int64_t num_blocks, int64_t budget, int64_t max_num_seqs,
                          SchedulingPolicy policy = SchedulingPolicy::FCFS) {
  SchedulerConfig config;
  config.num_blocks = num_blocks;
  config.block_size = 4;
  config.max_num_batched_tokens = budget;
  config.max_num_seqs = max_num_seqs;
  config.max_model_len = 256;
  config.policy = policy;
  return config;
}

class Loop {
 public:
  explicit Loop(const SchedulerConfig& config)
      : kv_cache_(1, config.num_blocks, config.block_size, 1, 2),
        scheduler_(config),
        runner_(model_, kv_cache_) {}

  void add(const std::string& id, std::vector<int32_t> prompt, int max_tokens,
           int priority = 0) {
    prompts_[id] = prompt;
    max_tokens_[id] = max_tokens;
    auto request = std::make_unique<Request>(id, std::move(prompt), greedy_params(max_tokens),
                                             max_tokens, kEosTokenId, 0);
    request->priority = priority;
    scheduler_.add_request(std::move(request));
  }

  // Runs one step; returns the scheduled ids in order.
  std::vector<std::string> step() {
    last_ = scheduler_.schedule();
    std::vector<std::string> ids;
    for (const ScheduledRequest& scheduled : last_.scheduled) {
      ids.push_back(scheduled.request->request_id());
    }
    ModelRunnerOutput runner_output = runner_.execute(last_);
    for (EngineCoreOutput& result : scheduler_.update_from_output(last_, runner_output)) {
      std::vector<int32_t>& tokens = outputs_[result.request_id];
      tokens.insert(tokens.end(), result.new_token_ids.begin(), result.new_token_ids.end());
      num_cached_tokens_[result.request_id] = result.num_cached_tokens;
    }
    return ids;
  }

  void run_until_done() {
    for (int i = 0; i < 1000 && scheduler_.has_unfinished_requests(); ++i) step();
    ASSERT_FALSE(scheduler_.has_unfinished_requests());
  }

  std::vector<int32_t> reference(const std::string& id) const {
    return reference_greedy(prompts_.at(id), max_tokens_.at(id));
  }

  // Every usable block is free with no reference, cached ones included.
  void expect_all_blocks_free() const {
    const BlockPool& pool = scheduler_.kv_cache_manager().block_pool();
    EXPECT_EQ(pool.get_num_free_blocks(), pool.num_blocks() - 1);
    EXPECT_EQ(static_cast<int64_t>(pool.free_block_ids().size()), pool.num_blocks() - 1);
    for (int32_t id = 1; id < pool.num_blocks(); ++id) {
      EXPECT_EQ(pool.block(id).ref_cnt, 0) << "block " << id;
    }
  }

  testing::FakeModel model_{kVocabSize, 512};
  KVCache kv_cache_;
  Scheduler scheduler_;
  ModelRunner runner_;
  SchedulerOutput last_;
  std::map<std::string, std::vector<int32_t>> prompts_;
  std::map<std::string, int> max_tokens_;
  std::map<std::string, std::vector<int32_t>> outputs_;
  std::map<std::string, int> num_cached_tokens_;
};

TEST(SchedulerPrefixCache, SameStepSamplesShare) {
  Loop loop(config_of(64, 64, 8));
  loop.add("0_p", make_prompt(10, 1), 4);
  loop.add("1_p", make_prompt(10, 1), 4);
  EXPECT_EQ(loop.step(), (std::vector<std::string>{"0_p", "1_p"}));
  ASSERT_EQ(loop.last_.scheduled.size(), 2u);
  EXPECT_EQ(loop.last_.scheduled[0].num_new_tokens, 10);
  EXPECT_EQ(loop.last_.scheduled[1].num_new_tokens, 2);  // blocks 1, 2 hit in the same step
  const std::vector<int32_t>& first = loop.last_.scheduled[0].block_ids;
  const std::vector<int32_t>& second = loop.last_.scheduled[1].block_ids;
  ASSERT_EQ(second.size(), 3u);
  EXPECT_EQ(second[0], first[0]);
  EXPECT_EQ(second[1], first[1]);
  EXPECT_NE(second[2], first[2]);
  loop.run_until_done();
  EXPECT_EQ(loop.num_cached_tokens_.at("0_p"), 0);
  EXPECT_EQ(loop.num_cached_tokens_.at("1_p"), 8);
  EXPECT_EQ(loop.outputs_.at("0_p"), loop.reference("0_p"));
  EXPECT_EQ(loop.outputs_.at("1_p"), loop.reference("1_p"));
  loop.expect_all_blocks_free();
}

TEST(SchedulerPrefixCache, LaterRequestHitsFinishedOne) {
  Loop loop(config_of(64, 64, 8));
  loop.add("a", make_prompt(13, 2), 3);
  loop.run_until_done();
  std::vector<int32_t> follow_up = make_prompt(13, 2);
  follow_up.insert(follow_up.end(), loop.outputs_.at("a").begin(), loop.outputs_.at("a").end());
  follow_up.push_back(5);  // 17 tokens: the 15 computed by "a" give 3 full blocks
  loop.add("b", follow_up, 3);
  loop.run_until_done();
  EXPECT_EQ(loop.num_cached_tokens_.at("b"), 12);
  EXPECT_EQ(loop.outputs_.at("b"), loop.reference("b"));
  EXPECT_EQ(loop.scheduler_.kv_cache_manager().prefix_cache_stats().hits, 12);
}

TEST(SchedulerPrefixCache, PreemptionReusesCachedBlocks) {
  // 8 usable blocks of 4 tokens hold 32 tokens; three requests need 20 tokens each.
  Loop loop(config_of(9, 64, 8));
  for (int i = 0; i < 3; ++i) loop.add("r" + std::to_string(i), make_prompt(8, 10 + i), 12);
  loop.run_until_done();
  const PrefixCacheStats& stats = loop.scheduler_.kv_cache_manager().prefix_cache_stats();
  EXPECT_GE(loop.scheduler_.stats().num_preemptions, 1);
  EXPECT_GT(stats.preempted_hits, 0);
  for (int i = 0; i < 3; ++i) {
    const std::string id = "r" + std::to_string(i);
    EXPECT_EQ(loop.outputs_.at(id), loop.reference(id)) << id;
  }
  loop.expect_all_blocks_free();
}

TEST(SchedulerPolicy, PriorityAdmitsLowerValueFirst) {
  Loop priority(config_of(64, 64, 1, SchedulingPolicy::PRIORITY));
  priority.add("early", make_prompt(5, 1), 2, /*priority=*/5);
  priority.add("late", make_prompt(5, 2), 2, /*priority=*/1);
  priority.add("tie", make_prompt(5, 3), 2, /*priority=*/1);
  EXPECT_EQ(priority.step(), (std::vector<std::string>{"late"}));
  priority.run_until_done();

  Loop fcfs(config_of(64, 64, 1));
  fcfs.add("early", make_prompt(5, 1), 2);
  fcfs.add("late", make_prompt(5, 2), 2);
  EXPECT_EQ(fcfs.step(), (std::vector<std::string>{"early"}));
}

TEST(SchedulerPolicy, PriorityOrderWithTies) {
  Loop loop(config_of(64, 64, 1, SchedulingPolicy::PRIORITY));
  loop.add("a", make_prompt(3, 1), 1, 2);
  loop.add("b", make_prompt(3, 2), 1, 1);
  loop.add("c", make_prompt(3, 3), 1, 1);
  loop.add("d", make_prompt(3, 4), 1, 0);
  std::vector<std::string> order;
  while (loop.scheduler_.has_unfinished_requests()) {
    for (const std::string& id : loop.step()) order.push_back(id);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"d", "b", "c", "a"}));
}

TEST(SchedulerPolicy, PreemptsHighestValue) {
  // 6 usable blocks: three 8-token prompts fill them, so the first decode step preempts.
  Loop priority(config_of(7, 64, 8, SchedulingPolicy::PRIORITY));
  priority.add("p0", make_prompt(8, 1), 6, 0);
  priority.add("p2", make_prompt(8, 2), 6, 2);
  priority.add("p1", make_prompt(8, 3), 6, 1);
  EXPECT_EQ(priority.step(), (std::vector<std::string>{"p0", "p1", "p2"}));
  priority.step();
  EXPECT_EQ(priority.last_.preempted_request_ids, (std::vector<std::string>{"p2"}));
  priority.run_until_done();
  for (const char* id : {"p0", "p1", "p2"}) {
    EXPECT_EQ(priority.outputs_.at(id), priority.reference(id)) << id;
  }

  Loop fcfs(config_of(7, 64, 8));
  fcfs.add("p0", make_prompt(8, 1), 6);
  fcfs.add("p2", make_prompt(8, 2), 6);
  fcfs.add("p1", make_prompt(8, 3), 6);
  fcfs.step();
  fcfs.step();
  EXPECT_EQ(fcfs.last_.preempted_request_ids, (std::vector<std::string>{"p1"}));
}

TEST(SchedulerPolicy, PreemptionTakesBackScheduledRequest) {
  // 5 usable blocks. p2 runs first; p0 arrives later and outranks it, so when p0 needs a
  // block, p2, already scheduled in that step, is preempted and its tokens taken back.
  Loop loop(config_of(6, 64, 8, SchedulingPolicy::PRIORITY));
  loop.add("p2", make_prompt(8, 1), 8, 2);
  loop.step();  // p2: 8 prompt tokens in blocks 1, 2
  loop.add("p0", make_prompt(8, 2), 8, 0);
  EXPECT_EQ(loop.step(), (std::vector<std::string>{"p2", "p0"}));  // 5 blocks in use
  EXPECT_EQ(loop.step(), (std::vector<std::string>{"p0"}));
  EXPECT_EQ(loop.last_.preempted_request_ids, (std::vector<std::string>{"p2"}));
  EXPECT_EQ(loop.last_.total_num_scheduled_tokens, 1);
  loop.run_until_done();
  EXPECT_EQ(loop.outputs_.at("p0"), loop.reference("p0"));
  EXPECT_EQ(loop.outputs_.at("p2"), loop.reference("p2"));
  loop.expect_all_blocks_free();
}

TEST(SchedulerAbort, EveryStageFreesBlocks) {
  Loop loop(config_of(32, 4, 2));
  loop.add("decoding", make_prompt(3, 1), 20);
  loop.step();  // prompt done, one token sampled
  loop.add("prefilling", make_prompt(12, 2), 4);
  loop.add("waiting", make_prompt(6, 3), 4);
  loop.step();  // decoding takes 1 token, prefilling 3 of 12; max_num_seqs keeps "waiting" out
  EXPECT_EQ(loop.last_.scheduled.size(), 2u);
  EXPECT_EQ(loop.scheduler_.num_waiting(), 1);
  EXPECT_FALSE(loop.outputs_.count("prefilling"));
  EXPECT_GT(loop.scheduler_.kv_cache_manager().block_pool().num_cached_blocks(), 0);

  for (const char* id : {"waiting", "prefilling", "decoding"}) {
    std::vector<EngineCoreOutput> outputs =
        loop.scheduler_.finish_requests({id}, RequestStatus::FINISHED_ABORTED);
    ASSERT_EQ(outputs.size(), 1u) << id;
    EXPECT_EQ(outputs[0].finish_reason, "abort") << id;
    EXPECT_FALSE(loop.scheduler_.contains(id)) << id;
  }
  EXPECT_FALSE(loop.scheduler_.has_unfinished_requests());
  loop.expect_all_blocks_free();
  // The aborted requests' full blocks stay cached, in the free queue.
  EXPECT_GT(loop.scheduler_.kv_cache_manager().block_pool().num_cached_blocks(), 0);
}

}  // namespace
}  // namespace vllm
