// Scheduler tests driven by the fake model: schedule, run, sample and update as the engine
// core does, checking every output against a scalar greedy reference.
#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <numeric>
#include <vector>

#include "engine/model_runner.h"
#include "fake_model.h"

namespace vllm {
namespace {

using testing::FakeModel;

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
  return params;
}

// Scalar reference of a greedy request on the fake model: the highest logit after the
// history, skipping banned ids, until max_tokens, EOS or a stop id.
std::vector<int32_t> reference_greedy(std::vector<int32_t> tokens, const SamplingParams& params) {
  std::vector<int32_t> output;
  while (static_cast<int>(output.size()) < *params.max_tokens) {
    std::vector<float> row(kVocabSize);
    testing::fake_logits(testing::fake_context_hash(tokens), row);
    const bool before_min = static_cast<int>(output.size()) < params.min_tokens;
    int32_t best = -1;
    for (int32_t v = 0; v < kVocabSize; ++v) {
      const bool is_stop = std::count(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                      v) > 0 ||
                           (v == kEosTokenId && !params.ignore_eos);
      if (before_min && is_stop) continue;
      if (best < 0 || row[v] > row[best]) best = v;
    }
    output.push_back(best);
    tokens.push_back(best);
    const bool stops = (best == kEosTokenId && !params.ignore_eos) ||
                       std::count(params.stop_token_ids.begin(), params.stop_token_ids.end(),
                                  best) > 0;
    if (stops) break;
  }
  return output;
}

// Runs the scheduler loop of the engine core on one thread.
class Harness {
 public:
  explicit Harness(const SchedulerConfig& config)
      : kv_cache_(1, config.num_blocks, config.block_size, 1, 2),
        scheduler_(config),
        runner_(model_, kv_cache_) {}

  void add(const std::string& id, std::vector<int32_t> prompt, const SamplingParams& params) {
    prompts_[id] = prompt;
    params_[id] = params;
    scheduler_.add_request(std::make_unique<Request>(id, std::move(prompt), params,
                                                     *params.max_tokens, kEosTokenId, 0));
  }

  // Runs one step; returns the number of scheduled requests.
  size_t step() {
    SchedulerOutput output = scheduler_.schedule();
    for (const ScheduledRequest& scheduled : output.scheduled) {
      first_scheduled_step_.emplace(scheduled.request->request_id(), num_steps_);
    }
    max_scheduled_ = std::max(max_scheduled_, output.scheduled.size());
    max_running_ = std::max(max_running_, static_cast<size_t>(scheduler_.num_running()));
    ModelRunnerOutput runner_output = runner_.execute(output);
    for (EngineCoreOutput& result : scheduler_.update_from_output(output, runner_output)) {
      std::vector<int32_t>& tokens = outputs_[result.request_id];
      tokens.insert(tokens.end(), result.new_token_ids.begin(), result.new_token_ids.end());
      if (result.finished()) {
        finish_reasons_[result.request_id] = *result.finish_reason;
        stop_reasons_[result.request_id] = result.stop_reason;
        finished_step_[result.request_id] = num_steps_;
      }
    }
    ++num_steps_;
    return output.scheduled.size();
  }

  void run_until_done(int max_steps = 10000) {
    while (scheduler_.has_unfinished_requests() && num_steps_ < max_steps) step();
    ASSERT_FALSE(scheduler_.has_unfinished_requests()) << "requests left after " << max_steps;
  }

  std::vector<int32_t> reference(const std::string& id) const {
    return reference_greedy(prompts_.at(id), params_.at(id));
  }

  FakeModel model_{kVocabSize, 512};
  KVCache kv_cache_;
  Scheduler scheduler_;
  ModelRunner runner_;
  std::map<std::string, std::vector<int32_t>> prompts_;
  std::map<std::string, SamplingParams> params_;
  std::map<std::string, std::vector<int32_t>> outputs_;
  std::map<std::string, std::string> finish_reasons_;
  std::map<std::string, std::variant<std::monostate, int32_t, std::string>> stop_reasons_;
  std::map<std::string, int> first_scheduled_step_;
  std::map<std::string, int> finished_step_;
  size_t max_scheduled_ = 0;
  size_t max_running_ = 0;
  int num_steps_ = 0;
};

SchedulerConfig small_config(int64_t num_blocks, int64_t budget, int64_t max_num_seqs = 8) {
  SchedulerConfig config;
  config.num_blocks = num_blocks;
  config.block_size = 4;
  config.max_num_batched_tokens = budget;
  config.max_num_seqs = max_num_seqs;
  config.max_model_len = 256;
  return config;
}

TEST(Scheduler, ContinuousBatching) {
  Harness harness(small_config(64, 16));
  SamplingParams params = greedy_params(12);
  params.ignore_eos = true;
  harness.add("long", make_prompt(30, 1), params);
  harness.add("short", make_prompt(5, 2), params);
  for (int i = 0; i < 5; ++i) harness.step();
  harness.add("late", make_prompt(3, 3), params);
  harness.run_until_done();

  EXPECT_GT(harness.max_scheduled_, 1u);
  EXPECT_GE(harness.scheduler_.stats().num_multi_step_prefills, 1);
  EXPECT_EQ(harness.first_scheduled_step_.at("late"), 5);
  EXPECT_LT(harness.first_scheduled_step_.at("late"), harness.finished_step_.at("long"));
  EXPECT_LT(harness.first_scheduled_step_.at("late"), harness.finished_step_.at("short"));
  for (const char* id : {"long", "short", "late"}) {
    EXPECT_EQ(harness.outputs_.at(id), harness.reference(id)) << id;
    EXPECT_EQ(harness.finish_reasons_.at(id), "length") << id;
  }
  EXPECT_EQ(harness.scheduler_.kv_cache_manager().num_free_blocks(), 63);
}

TEST(Scheduler, LongPromptChunked) {
  Harness harness(small_config(64, 8));
  harness.add("a", make_prompt(30, 4), greedy_params(4));
  EXPECT_EQ(harness.step(), 1u);
  EXPECT_TRUE(harness.outputs_.empty());  // 8 of 30 prompt tokens computed
  harness.run_until_done();
  EXPECT_EQ(harness.scheduler_.stats().num_multi_step_prefills, 1);
  EXPECT_EQ(harness.outputs_.at("a"), harness.reference("a"));
}

// Without chunked prefill a prompt that does not fit in the step's remaining budget waits
// for a later step and then runs whole, while the running request keeps decoding.
TEST(Scheduler, UnchunkedPromptWaitsForRoom) {
  SchedulerConfig config = small_config(64, 32);
  config.enable_chunked_prefill = false;
  Harness harness(config);
  SamplingParams params = greedy_params(6);
  params.ignore_eos = true;
  harness.add("first", make_prompt(20, 1), params);
  harness.add("second", make_prompt(20, 2), params);
  EXPECT_EQ(harness.step(), 1u);  // 20 + 20 tokens exceed the budget of 32
  EXPECT_EQ(harness.first_scheduled_step_.count("second"), 0u);
  EXPECT_EQ(harness.step(), 2u);  // first's decode token + second's whole prompt
  harness.run_until_done();
  EXPECT_EQ(harness.scheduler_.stats().num_multi_step_prefills, 0);
  EXPECT_EQ(harness.outputs_.at("first"), harness.reference("first"));
  EXPECT_EQ(harness.outputs_.at("second"), harness.reference("second"));
}

TEST(Scheduler, PreemptionKeepsOutputs) {
  // 8 usable blocks of 4 tokens hold 32 tokens; three requests need 20 tokens each.
  SamplingParams params = greedy_params(12);
  params.ignore_eos = true;
  Harness tight(small_config(9, 64));
  for (int i = 0; i < 3; ++i) tight.add("r" + std::to_string(i), make_prompt(8, 10 + i), params);
  tight.run_until_done();

  Harness roomy(small_config(64, 64));
  for (int i = 0; i < 3; ++i) roomy.add("r" + std::to_string(i), make_prompt(8, 10 + i), params);
  roomy.run_until_done();

  EXPECT_GE(tight.scheduler_.stats().num_preemptions, 1);
  EXPECT_EQ(roomy.scheduler_.stats().num_preemptions, 0);
  for (int i = 0; i < 3; ++i) {
    const std::string id = "r" + std::to_string(i);
    EXPECT_EQ(tight.outputs_.at(id).size(), 12u) << id;
    EXPECT_EQ(tight.outputs_.at(id), roomy.outputs_.at(id)) << id;
    EXPECT_EQ(tight.outputs_.at(id), tight.reference(id)) << id;
  }
  EXPECT_EQ(tight.scheduler_.kv_cache_manager().num_free_blocks(), 8);
}

TEST(Scheduler, MaxNumSeqsRespected) {
  Harness harness(small_config(64, 64, /*max_num_seqs=*/2));
  for (int i = 0; i < 5; ++i) {
    harness.add("r" + std::to_string(i), make_prompt(3, i), greedy_params(5));
  }
  harness.run_until_done();
  EXPECT_EQ(harness.max_scheduled_, 2u);
  EXPECT_LE(harness.max_running_, 2u);
  EXPECT_EQ(harness.outputs_.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const std::string id = "r" + std::to_string(i);
    EXPECT_EQ(harness.outputs_.at(id), harness.reference(id)) << id;
  }
}

TEST(Scheduler, StopTokenId) {
  Harness probe(small_config(64, 64));
  probe.add("p", make_prompt(6, 20), [] {
    SamplingParams params = greedy_params(10);
    params.ignore_eos = true;
    return params;
  }());
  probe.run_until_done();
  const int32_t stop_id = probe.outputs_.at("p")[3];

  SamplingParams params = greedy_params(10);
  params.ignore_eos = true;
  params.stop_token_ids = {stop_id};
  Harness harness(small_config(64, 64));
  harness.add("a", make_prompt(6, 20), params);
  harness.run_until_done();
  const std::vector<int32_t>& output = harness.outputs_.at("a");
  EXPECT_EQ(output, harness.reference("a"));
  EXPECT_EQ(output.back(), stop_id);
  EXPECT_LE(output.size(), 4u);
  EXPECT_EQ(harness.finish_reasons_.at("a"), "stop");
  EXPECT_EQ(std::get<int32_t>(harness.stop_reasons_.at("a")), stop_id);
}

TEST(Scheduler, MinTokensMasksStopIds) {
  Harness probe(small_config(64, 64));
  SamplingParams probe_params = greedy_params(10);
  probe_params.ignore_eos = true;
  probe.add("p", make_prompt(6, 21), probe_params);
  probe.run_until_done();
  const int32_t first = probe.outputs_.at("p")[0];

  SamplingParams params = greedy_params(10);
  params.ignore_eos = true;
  params.stop_token_ids = {first};
  params.min_tokens = 3;
  Harness harness(small_config(64, 64));
  harness.add("a", make_prompt(6, 21), params);
  harness.run_until_done();
  const std::vector<int32_t>& output = harness.outputs_.at("a");
  ASSERT_GE(output.size(), 3u);
  EXPECT_NE(output[0], first);
  EXPECT_EQ(output, harness.reference("a"));
}

TEST(Scheduler, EosStops) {
  // Find a prompt whose greedy continuation reaches EOS within 40 tokens.
  SamplingParams params = greedy_params(40);
  int salt = 0;
  for (; salt < 500; ++salt) {
    std::vector<int32_t> reference = reference_greedy(make_prompt(4, salt), params);
    if (reference.back() == kEosTokenId) break;
  }
  ASSERT_LT(salt, 500);
  Harness harness(small_config(64, 64));
  harness.add("a", make_prompt(4, salt), params);
  harness.run_until_done();
  EXPECT_EQ(harness.outputs_.at("a"), harness.reference("a"));
  EXPECT_EQ(harness.outputs_.at("a").back(), kEosTokenId);
  EXPECT_EQ(harness.finish_reasons_.at("a"), "stop");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(harness.stop_reasons_.at("a")));
}

TEST(Scheduler, MaxModelLenCaps) {
  SchedulerConfig config = small_config(64, 64);
  config.max_model_len = 10;
  Harness harness(config);
  SamplingParams params = greedy_params(100);
  params.ignore_eos = true;
  harness.add("a", make_prompt(6, 5), params);
  harness.run_until_done();
  EXPECT_EQ(harness.outputs_.at("a").size(), 4u);
  EXPECT_EQ(harness.finish_reasons_.at("a"), "length");
}

TEST(Scheduler, AbortFreesBlocks) {
  Harness harness(small_config(64, 64, 1));
  SamplingParams params = greedy_params(50);
  params.ignore_eos = true;
  harness.add("running", make_prompt(10, 1), params);
  harness.add("waiting", make_prompt(10, 2), params);
  harness.step();
  harness.step();
  EXPECT_EQ(harness.scheduler_.num_running(), 1);
  EXPECT_EQ(harness.scheduler_.num_waiting(), 1);
  std::vector<EngineCoreOutput> outputs =
      harness.scheduler_.finish_requests({"waiting", "running", "unknown"},
                                         RequestStatus::FINISHED_ABORTED);
  ASSERT_EQ(outputs.size(), 2u);
  EXPECT_EQ(*outputs[0].finish_reason, "abort");
  EXPECT_EQ(*outputs[1].finish_reason, "abort");
  EXPECT_FALSE(harness.scheduler_.has_unfinished_requests());
  EXPECT_EQ(harness.scheduler_.kv_cache_manager().num_free_blocks(), 63);
}

TEST(Scheduler, BatchLayout) {
  Harness harness(small_config(64, 64));
  harness.add("a", make_prompt(5, 1), greedy_params(3));
  harness.add("b", make_prompt(2, 2), greedy_params(3));
  SchedulerOutput output = harness.scheduler_.schedule();
  std::vector<Request*> sampling;
  ForwardBatch batch = harness.runner_.build_batch(output, &sampling);
  EXPECT_EQ(batch.query_start_loc, (std::vector<int32_t>{0, 5, 7}));
  EXPECT_EQ(batch.seq_lens, (std::vector<int32_t>{5, 2}));
  EXPECT_EQ(batch.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 0, 1}));
  // a holds blocks 1 and 2, b holds block 3; the padded entry points at the null block.
  EXPECT_EQ(batch.block_tables, (std::vector<int32_t>{1, 2, 3, 0}));
  EXPECT_EQ(batch.slot_mapping, (std::vector<int64_t>{4, 5, 6, 7, 8, 12, 13}));
  EXPECT_EQ(batch.logits_indices, (std::vector<int32_t>{4, 6}));
  EXPECT_EQ(sampling.size(), 2u);
}

}  // namespace
}  // namespace vllm
