// Stop strings: the matcher, the streaming hold-back in the OutputProcessor, and the engine
// ending a request on one.
#include "engine/stop_checker.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/output_processor.h"
#include "fake_model.h"
#include "vllm/engine.h"

namespace vllm {
namespace {

using namespace std::chrono_literals;
using testing::FakeModel;
using testing::FakeTokenizer;

TEST(CheckStopStrings, SpansEarlierText) {
  // "xy" completes with the new "y" while "x" came before.
  const auto match = check_stop_strings("abcxy", 1, {"xy"}, false);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->stop_str, "xy");
  EXPECT_EQ(match->truncate_to, 3u);
}

TEST(CheckStopStrings, IgnoresOldMatches) {
  // A match that ended before the new text was already checked.
  EXPECT_FALSE(check_stop_strings("xyabc", 2, {"xy"}, false).has_value());
}

TEST(CheckStopStrings, AtStart) {
  const auto match = check_stop_strings("st", 2, {"st"}, false);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->truncate_to, 0u);
}

TEST(CheckStopStrings, ListOrderWins) {
  // Both match; vLLM takes the first in the list, not the earliest in the text.
  const auto match = check_stop_strings("abcd", 4, {"cd", "ab"}, false);
  ASSERT_TRUE(match.has_value());
  EXPECT_EQ(match->stop_str, "cd");
  EXPECT_EQ(match->truncate_to, 2u);
}

TEST(CheckStopStrings, IncludeInOutput) {
  const auto at_end = check_stop_strings("abxy", 2, {"xy"}, true);
  ASSERT_TRUE(at_end.has_value());
  EXPECT_FALSE(at_end->truncate_to.has_value());
  const auto inside = check_stop_strings("abxyz", 3, {"xy"}, true);
  ASSERT_TRUE(inside.has_value());
  EXPECT_EQ(inside->truncate_to, 4u);
}

TEST(CheckStopStrings, NoNewText) {
  EXPECT_FALSE(check_stop_strings("xy", 0, {"xy"}, false).has_value());
}

TEST(LengthWithoutLastChars, Utf8) {
  EXPECT_EQ(length_without_last_chars("ab\xC3\xA9", 1), 2u);
  EXPECT_EQ(length_without_last_chars("ab\xC3\xA9", 2), 1u);
  EXPECT_EQ(length_without_last_chars("ab", 5), 0u);
  EXPECT_EQ(length_without_last_chars("ab", 0), 2u);
}

// Feeds `text` one character (one fake token) per step and returns every reported text.
struct StreamResult {
  std::vector<std::string> texts;  // cumulative text of each report
  RequestOutput last;
  std::vector<std::string> stopped_ids;
};

StreamResult stream(const std::string& text, const SamplingParams& params,
                    RequestOutputKind kind = RequestOutputKind::CUMULATIVE) {
  static const FakeTokenizer tokenizer(128);
  OutputProcessor processor(tokenizer);
  SamplingParams request_params = params;
  request_params.output_kind = kind;
  processor.add_request("r", std::nullopt, {1, 2}, request_params);
  StreamResult result;
  for (size_t i = 0; i < text.size(); ++i) {
    EngineCoreOutput output;
    output.request_id = "r";
    output.new_token_ids = tokenizer.encode(text.substr(i, 1), false);
    if (i + 1 == text.size()) output.finish_reason = "length";
    std::vector<RequestOutput> outputs = processor.process_outputs({output});
    for (std::string& id : processor.take_stopped_child_ids()) result.stopped_ids.push_back(id);
    if (outputs.empty()) continue;
    result.texts.push_back(outputs[0].outputs[0].text);
    result.last = outputs[0];
    if (outputs[0].finished) break;
  }
  return result;
}

TEST(StopStringStream, TruncatesBeforeStop) {
  SamplingParams params;
  params.stop = {"STOP"};
  const StreamResult result = stream("abcSTOPdef", params);
  const CompletionOutput& output = result.last.outputs[0];
  EXPECT_TRUE(result.last.finished);
  EXPECT_EQ(output.text, "abc");
  EXPECT_EQ(output.finish_reason, "stop");
  EXPECT_EQ(std::get<std::string>(output.stop_reason), "STOP");
  // The token that completed the match ("P") is kept, nothing after it.
  EXPECT_EQ(output.token_ids.size(), 7u);
  EXPECT_EQ(result.stopped_ids, std::vector<std::string>{"r"});
}

TEST(StopStringStream, IncludeStopString) {
  SamplingParams params;
  params.stop = {"STOP"};
  params.include_stop_str_in_output = true;
  const StreamResult result = stream("abcSTOPdef", params);
  EXPECT_EQ(result.last.outputs[0].text, "abcSTOP");
  EXPECT_EQ(result.last.outputs[0].finish_reason, "stop");
}

TEST(StopStringStream, NoFragmentEverReported) {
  // "ST" and "STO" appear before the real stop string; no report may show a fragment of
  // the final "STOP", and every report extends the previous one.
  SamplingParams params;
  params.stop = {"STOP"};
  const StreamResult result = stream("aSTbSTOxSTOPzz", params);
  const std::string final_text = result.last.outputs[0].text;
  EXPECT_EQ(final_text, "aSTbSTOx");
  std::string previous;
  for (const std::string& text : result.texts) {
    EXPECT_EQ(final_text.compare(0, text.size(), text), 0) << "reported " << text;
    EXPECT_EQ(text.compare(0, previous.size(), previous), 0) << "shrank to " << text;
    EXPECT_EQ(text.find("STOP"), std::string::npos);
    previous = text;
  }
}

TEST(StopStringStream, HoldBackLength) {
  SamplingParams params;
  params.stop = {"xyz"};
  const StreamResult result = stream("abcdefg", params);
  // While running, the last len("xyz") - 1 = 2 characters are held back.
  ASSERT_GE(result.texts.size(), 4u);
  EXPECT_EQ(result.texts[0], "");
  EXPECT_EQ(result.texts[3], "ab");
  EXPECT_EQ(result.last.outputs[0].text, "abcdefg");  // released when finished
  EXPECT_EQ(result.last.outputs[0].finish_reason, "length");
}

TEST(StopStringStream, DeltasConcatenate) {
  SamplingParams params;
  params.stop = {"STOP", "QQ"};
  const StreamResult cumulative = stream("aSTbQxSTOPzz", params);
  const StreamResult delta = stream("aSTbQxSTOPzz", params, RequestOutputKind::DELTA);
  std::string joined;
  for (const std::string& text : delta.texts) joined += text;
  EXPECT_EQ(joined, cumulative.last.outputs[0].text);
  EXPECT_EQ(joined, "aSTbQx");
}

TEST(StopStringStream, FinalOnlyReportsOnce) {
  SamplingParams params;
  const StreamResult result = stream("abcd", params, RequestOutputKind::FINAL_ONLY);
  ASSERT_EQ(result.texts.size(), 1u);
  EXPECT_EQ(result.texts[0], "abcd");
}

TEST(StopStringStream, MinTokensDelaysCheck) {
  // vLLM checks stop strings only once more than min_tokens tokens were generated.
  SamplingParams params;
  params.stop = {"ab"};
  params.min_tokens = 3;
  const StreamResult result = stream("abcab", params);
  EXPECT_EQ(result.last.outputs[0].text, "abc");
  EXPECT_EQ(result.last.outputs[0].finish_reason, "stop");
}

// Engine-level: a stop string chosen from the unconstrained greedy output ends the request.
EngineArgs small_args() {
  EngineArgs args;
  args.max_model_len = 128;
  args.block_size = 4;
  args.max_num_batched_tokens = 64;
  args.kv_cache_memory_bytes = 256 * KVCache::bytes_per_block(1, 4, 1, 2);
  args.num_threads = 1;
  return args;
}

RequestOutput run_one(const SamplingParams& params) {
  LLMEngine engine(small_args(), std::make_unique<FakeModel>(64, 128),
                   std::make_unique<FakeTokenizer>(64));
  PromptInput prompt;
  prompt.token_ids = {5, 9, 13, 2};
  engine.add_request("r", prompt, params);
  RequestOutput last;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (engine.has_unfinished_requests() && std::chrono::steady_clock::now() < deadline) {
    for (RequestOutput& output : engine.get_outputs(100ms)) last = std::move(output);
  }
  // The aborted engine-core request must leave the core idle.
  for (int i = 0; i < 50 && engine.stats().num_running > 0; ++i) engine.get_outputs(20ms);
  EXPECT_EQ(engine.stats().num_running, 0);
  return last;
}

TEST(StopStringEngine, EndsRequest) {
  SamplingParams params;
  params.temperature = 0.0;
  params.max_tokens = 20;
  params.ignore_eos = true;
  const RequestOutput free_run = run_one(params);
  const std::string text = free_run.outputs[0].text;
  ASSERT_GE(text.size(), 12u);
  const std::string stop = text.substr(6, 3);
  const size_t first = text.find(stop);  // may occur earlier than index 6

  params.stop = {stop};
  const RequestOutput stopped = run_one(params);
  EXPECT_EQ(stopped.outputs[0].text, text.substr(0, first));
  EXPECT_EQ(stopped.outputs[0].finish_reason, "stop");
  EXPECT_EQ(std::get<std::string>(stopped.outputs[0].stop_reason), stop);
  EXPECT_EQ(stopped.outputs[0].token_ids.size(), first + stop.size());
}

}  // namespace
}  // namespace vllm
