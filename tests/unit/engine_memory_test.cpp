// Resident memory of a long run of mixed requests under a fixed KV budget. After warm-up it
// must grow by less than 1 MiB per minute through aborts at every stage, preemptions,
// parallel samples, stop strings and priorities. Every KV block must be free at the end.
//
// The run lasts VLLM_MEMORY_TEST_SECONDS (default 50: at least 10 of warm-up, at least 30
// measured). The fake
// model makes thousands of engine steps in that time. The real model, when present, also
// covers the buffers of the model runner and the kernels.
#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unistd.h>
#include <vector>

#include "fake_model.h"
#include "model_loader/gguf.h"
#include "models/model.h"
#include "test_model.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr double kMaxGrowthMiBPerMinute = 1.0;

// Under AddressSanitizer freed memory stays resident in its quarantine (256 MiB by
// default), so resident memory grows with every free and the growth check is left out.
// LeakSanitizer checks that build for leaks at exit instead.
#if defined(__SANITIZE_ADDRESS__)
#define VLLM_ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VLLM_ADDRESS_SANITIZER 1
#endif
#endif
#ifndef VLLM_ADDRESS_SANITIZER
#define VLLM_ADDRESS_SANITIZER 0
#endif

// Resident set size of this process in bytes, from /proc/self/statm. Free heap memory is
// returned to the system first, so that the figure follows live allocations (a leak keeps
// its pages) rather than where the allocator happens to keep freed chunks.
int64_t resident_bytes() {
  malloc_trim(0);
  std::FILE* file = std::fopen("/proc/self/statm", "r");
  if (file == nullptr) return -1;
  long total_pages = 0;
  long resident_pages = 0;
  const int read = std::fscanf(file, "%ld %ld", &total_pages, &resident_pages);
  std::fclose(file);
  if (read != 2) return -1;
  return static_cast<int64_t>(resident_pages) * sysconf(_SC_PAGESIZE);
}

double run_seconds() {
  const char* value = std::getenv("VLLM_MEMORY_TEST_SECONDS");
  if (value == nullptr || *value == '\0') return 50.0;
  return std::max(5.0, std::atof(value));
}

struct Workload {
  int vocab_size = 0;
  int max_prompt_len = 0;
  int max_tokens = 0;
  int in_flight = 0;      // requests kept submitted at once
};

struct RunResult {
  int64_t rss_after_warmup = 0;
  int64_t rss_at_end = 0;
  double measured_minutes = 0.0;
  int64_t submitted = 0;
  int64_t finished = 0;
  int64_t aborted = 0;
};

// Keeps `workload.in_flight` random requests running for `seconds`, aborting about one in
// six at a random moment (still waiting, mid-prefill or decoding).
RunResult run_mixed_load(LLMEngine& engine, const Workload& workload, double seconds) {
  std::mt19937 rng(12345);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::vector<std::string> stops = {"ab", "x", "\n\n"};

  RunResult result;
  std::set<std::string> unfinished;
  std::map<std::string, Clock::time_point> abort_at;
  const Clock::time_point start = Clock::now();
  const Clock::time_point warmup_end = start + std::chrono::duration_cast<Clock::duration>(
                                                   std::chrono::duration<double>(seconds * 0.2));
  const Clock::time_point warmup_limit = start + std::chrono::duration_cast<Clock::duration>(
                                                     std::chrono::duration<double>(seconds * 0.6));
  // RSS at the last warm-up checkpoint, taken every kCheckpoint.
  constexpr auto kCheckpoint = std::chrono::seconds(4);
  int64_t checkpoint_rss = -1;
  Clock::time_point next_checkpoint = warmup_end;
  Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  Clock::time_point measure_start;
  int64_t next_id = 0;

  auto keep_submitting = [&](Clock::time_point now) {
    return now < end || result.rss_after_warmup == 0;
  };
  while (keep_submitting(Clock::now()) || !unfinished.empty()) {
    const Clock::time_point now = Clock::now();
    // Warm-up lasts a fifth of the run and at least until two rounds of requests have
    // finished. It also waits, for at most 60% of the run, until RSS has not grown over one
    // checkpoint interval, so that buffers and allocator arenas reach their working size. Loading
    // leaves few free holes in the heap, so on the real model the step transients (rows of
    // logprobs) took fresh pages for about 20 s before RSS settled. The measured part then
    // lasts at least 60% of the run, however slow the machine.
    bool settled = false;
    if (result.rss_after_warmup == 0 && now >= next_checkpoint) {
      const int64_t rss = resident_bytes();
      if (rss <= 0) {
        ADD_FAILURE() << "cannot read resident memory";
        return result;
      }
      settled = rss <= checkpoint_rss || now >= warmup_limit;
      checkpoint_rss = rss;
      next_checkpoint = now + kCheckpoint;
    }
    if (result.rss_after_warmup == 0 && settled && result.finished >= 2 * workload.in_flight) {
      result.rss_after_warmup = resident_bytes();
      measure_start = now;
      end = std::max(end, now + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(seconds * 0.6)));
    }
    while (keep_submitting(now) && static_cast<int>(unfinished.size()) < workload.in_flight) {
      const std::string id = "req-" + std::to_string(next_id++);
      PromptInput prompt;
      // A few shared prefixes so that prefix caching hits and evicts.
      const int prefix = uniform(0, 3);
      const int length = uniform(1, workload.max_prompt_len);
      for (int i = 0; i < length; ++i) {
        prompt.token_ids.push_back(i < length / 2 ? 1 + (prefix * 7 + i) % (workload.vocab_size - 1)
                                                  : uniform(1, workload.vocab_size - 1));
      }
      SamplingParams params;
      params.max_tokens = uniform(1, workload.max_tokens);
      params.temperature = uniform(0, 1) == 0 ? 0.0 : 0.8;
      if (uniform(0, 1) == 1) params.seed = uniform(0, 1000);
      if (params.temperature > 0.0 && uniform(0, 3) == 0) params.n = 2;
      if (uniform(0, 3) == 0) params.logprobs = 2;
      if (uniform(0, 4) == 0) params.stop = {stops[uniform(0, 2)]};
      params.ignore_eos = uniform(0, 1) == 0;
      engine.add_request(id, prompt, params, /*priority=*/uniform(0, 2));
      unfinished.insert(id);
      ++result.submitted;
      if (uniform(0, 5) == 0) abort_at[id] = now + std::chrono::milliseconds(uniform(0, 300));
    }
    for (auto it = abort_at.begin(); it != abort_at.end();) {
      if (it->second <= now) {
        engine.abort_request({it->first});
        it = abort_at.erase(it);
      } else {
        ++it;
      }
    }
    for (const RequestOutput& output : engine.get_outputs(5ms)) {
      if (!output.finished) continue;
      unfinished.erase(output.request_id);
      abort_at.erase(output.request_id);
      ++result.finished;
      if (output.outputs[0].finish_reason == std::optional<std::string>("abort")) {
        ++result.aborted;
      }
    }
    if (Clock::now() > end + 300s) break;  // guards against a hang only
  }
  result.rss_at_end = resident_bytes();
  result.measured_minutes =
      std::chrono::duration<double>(Clock::now() - measure_start).count() / 60.0;
  return result;
}

void expect_flat(const RunResult& result, const LLMEngine& engine) {
  const double growth_mib =
      static_cast<double>(result.rss_at_end - result.rss_after_warmup) / (1024.0 * 1024.0);
  const double per_minute = growth_mib / std::max(result.measured_minutes, 1.0 / 60.0);
  std::printf("requests %lld (aborted %lld), preemptions %lld, RSS %.1f -> %.1f MiB over "
              "%.2f min: %+.3f MiB/min\n",
              static_cast<long long>(result.submitted), static_cast<long long>(result.aborted),
              static_cast<long long>(engine.stats().num_preemptions),
              result.rss_after_warmup / 1048576.0, result.rss_at_end / 1048576.0,
              result.measured_minutes, per_minute);
  ASSERT_GT(result.rss_after_warmup, 0) << "the run never finished warming up";
  EXPECT_EQ(result.finished, result.submitted);
  EXPECT_GT(result.aborted, 0);
  EXPECT_GT(engine.stats().num_preemptions, 0);
  EXPECT_GT(engine.stats().prefix_cache_hits, 0);
#if !VLLM_ADDRESS_SANITIZER
  EXPECT_LT(per_minute, kMaxGrowthMiBPerMinute);
#endif
  EXPECT_EQ(engine.stats().num_free_blocks, engine.stats().num_total_blocks);
  EXPECT_EQ(engine.stats().num_running, 0);
  EXPECT_EQ(engine.stats().num_waiting, 0);
}

TEST(EngineMemory, FlatUnderMixedLoad) {
  constexpr int kVocabSize = 64;
  EngineArgs args;
  args.max_model_len = 128;
  args.block_size = 4;
  args.max_num_seqs = 8;
  args.max_num_batched_tokens = 32;  // chunked prefill for the longer prompts
  args.kv_cache_memory_bytes = 64 * KVCache::bytes_per_block(1, 4, 1, 2);  // preempts
  args.num_threads = 1;
  args.scheduling_policy = "priority";
  LLMEngine engine(args, std::make_unique<testing::FakeModel>(kVocabSize, 128),
                   std::make_unique<testing::FakeTokenizer>(kVocabSize));
  const Workload workload{kVocabSize, 60, 40, 12};
  expect_flat(run_mixed_load(engine, workload, run_seconds()), engine);
}

TEST(EngineMemory, FlatOnRealModel) {
  VLLM_REQUIRE_TEST_MODEL(model);
  EngineArgs args;
  args.model = model;
  args.max_model_len = 256;
  args.block_size = 16;
  args.max_num_seqs = 6;
  args.max_num_batched_tokens = 128;
  args.num_threads = 1;
  args.scheduling_policy = "priority";
  const ModelConfig config = model_config_from_gguf(*GGUFFile::open(model));
  const int64_t head_dim =
      config.head_dim > 0 ? config.head_dim : config.hidden_size / config.num_attention_heads;
  args.kv_cache_memory_bytes = 24 * KVCache::bytes_per_block(config.num_hidden_layers,
                                                             args.block_size,
                                                             config.num_key_value_heads, head_dim);
  LLMEngine engine(args);
  const Workload workload{static_cast<int>(engine.model_config().vocab_size), 240, 24, 8};
  expect_flat(run_mixed_load(engine, workload, run_seconds()), engine);
}

}  // namespace
}  // namespace vllm
