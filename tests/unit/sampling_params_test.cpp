// SamplingParams::validate messages, which follow vLLM v0.26's _verify_args word for word.
#include "vllm/sampling_params.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <map>
#include <string>

#include "core/errors.h"

namespace vllm {
namespace {

// Returns the InvalidArgument message of validating `params`, or "" when it passes.
std::string validation_error(const SamplingParams& params) {
  try {
    params.validate();
  } catch (const InvalidArgument& error) {
    return error.what();
  }
  return "";
}

SamplingParams with(const std::function<void(SamplingParams&)>& edit) {
  SamplingParams params;
  edit(params);
  return params;
}

TEST(SamplingParamsValidate, DefaultsPass) { EXPECT_EQ(validation_error(SamplingParams{}), ""); }

TEST(SamplingParamsValidate, PresencePenaltyRange) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.presence_penalty = 2.5; })),
            "presence_penalty must be in [-2, 2], got 2.5.");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.presence_penalty = -2.0; })), "");
}

TEST(SamplingParamsValidate, FrequencyPenaltyRange) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.frequency_penalty = -3.0; })),
            "frequency_penalty must be in [-2, 2], got -3.0.");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.frequency_penalty = 2.0; })), "");
}

TEST(SamplingParamsValidate, RepetitionPenaltyPositive) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.repetition_penalty = 0.0; })),
            "repetition_penalty must be greater than zero, got 0.0.");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.repetition_penalty = -1.0; })),
            "repetition_penalty must be greater than zero, got -1.0.");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.repetition_penalty = 5.0; })), "");
}

TEST(SamplingParamsValidate, RepetitionPenaltyFinite) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) {
              p.repetition_penalty = std::numeric_limits<double>::infinity();
            })),
            "repetition_penalty must be a finite number, got inf.");
}

TEST(SamplingParamsValidate, EmptyStopString) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.stop = {"a", ""}; })),
            "stop cannot contain an empty string.");
}

TEST(SamplingParamsValidate, StopNeedsDetokenize) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) {
              p.stop = {"a"};
              p.detokenize = false;
            })),
            "stop strings are only supported when detokenize is True. Set detokenize=True to "
            "use stop.");
}

TEST(SamplingParamsValidate, EmptyBadWord) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.bad_words = {"x", ""}; })),
            "bad_words cannot contain an empty string. Got bad_words=['x', '']");
}

TEST(SamplingParamsValidate, PromptLogprobsRange) {
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.prompt_logprobs = -2; })),
            "prompt_logprobs must be non-negative or -1, got -2.");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.prompt_logprobs = -1; })), "");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.prompt_logprobs = 0; })), "");
}

TEST(SamplingParamsValidate, EmptyAllowedTokenIds) {
  EXPECT_EQ(validation_error(
                with([](SamplingParams& p) { p.allowed_token_ids = std::vector<int32_t>{}; })),
            "allowed_token_ids is not None and empty!");
}

TEST(SamplingParamsValidate, TruncatePromptTokens) {
  EXPECT_NE(validation_error(with([](SamplingParams& p) { p.truncate_prompt_tokens = 0; })),
            "");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.truncate_prompt_tokens = -1; })),
            "");
  EXPECT_EQ(validation_error(with([](SamplingParams& p) { p.truncate_prompt_tokens = 3; })),
            "");
}

TEST(SamplingParams, BufferLengthCountsCharacters) {
  SamplingParams params;
  params.stop = {"ab", "\xC3\xA9\xC3\xA9\xC3\xA9"};  // "ééé": 3 characters, 6 bytes
  EXPECT_EQ(params.output_text_buffer_length(), 2);
  params.include_stop_str_in_output = true;
  EXPECT_EQ(params.output_text_buffer_length(), 0);
}

TEST(SamplingParams, ClampLogitBias) {
  const std::map<int32_t, double> clamped = clamp_logit_bias({{1, 250.0}, {2, -101.0}, {3, 5.0}});
  EXPECT_EQ(clamped.at(1), 100.0);
  EXPECT_EQ(clamped.at(2), -100.0);
  EXPECT_EQ(clamped.at(3), 5.0);
}

TEST(SamplingParams, PromptLogprobsSkipPrefixCache) {
  SamplingParams params;
  EXPECT_FALSE(params.skip_reading_prefix_cache());
  params.prompt_logprobs = 0;
  EXPECT_TRUE(params.skip_reading_prefix_cache());
}

}  // namespace
}  // namespace vllm
