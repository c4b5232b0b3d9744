#include "engine/model_runner.h"

#include <algorithm>

#include "core/errors.h"

namespace vllm {
namespace {

// Tokens per model forward call. Longer steps are split (see split_forward_batch). At 512
// tokens the CPU matrix products run as fast as at 64 (about 100 GFLOP/s per thread).
constexpr int32_t kMaxForwardTokens = 512;

}  // namespace

ModelRunner::ModelRunner(Model& model, KVCache& kv_cache) : model_(model), kv_cache_(kv_cache) {}

ForwardBatch ModelRunner::build_batch(const SchedulerOutput& scheduler_output,
                                      std::vector<Request*>* sampling_requests,
                                      LogitsLayout* layout) const {
  const int64_t block_size = kv_cache_.block_size();
  ForwardBatch batch;
  size_t max_blocks = 0;
  for (const ScheduledRequest& scheduled : scheduler_output.scheduled) {
    max_blocks = std::max(max_blocks, scheduled.block_ids.size());
  }
  batch.max_blocks_per_seq = static_cast<int32_t>(max_blocks);
  batch.query_start_loc.push_back(0);

  for (const ScheduledRequest& scheduled : scheduler_output.scheduled) {
    const Request& request = *scheduled.request;
    const int64_t start = request.num_computed_tokens;
    const int64_t end = start + scheduled.num_new_tokens;
    VLLM_CHECK(end <= request.num_tokens(), "request {} scheduled to token {} of {}",
               request.request_id(), end, request.num_tokens());
    VLLM_CHECK(static_cast<int64_t>(scheduled.block_ids.size()) * block_size >= end,
               "request {} has {} blocks for {} tokens", request.request_id(),
               scheduled.block_ids.size(), end);

    for (int64_t position = start; position < end; ++position) {
      batch.input_ids.push_back(request.all_token_ids()[position]);
      batch.positions.push_back(static_cast<int32_t>(position));
      const int64_t block_id = scheduled.block_ids[position / block_size];
      batch.slot_mapping.push_back(block_id * block_size + position % block_size);
    }
    batch.query_start_loc.push_back(static_cast<int32_t>(batch.input_ids.size()));
    batch.seq_lens.push_back(static_cast<int32_t>(end));

    // Unused block-table entries point at the null block (id 0).
    std::vector<int32_t> row(max_blocks, 0);
    std::copy(scheduled.block_ids.begin(), scheduled.block_ids.end(), row.begin());
    batch.block_tables.insert(batch.block_tables.end(), row.begin(), row.end());

    // Position p scores prompt token p + 1, so the last prompt position scores none.
    const int64_t first_token = static_cast<int64_t>(batch.input_ids.size()) - (end - start);
    const int64_t prompt_end = std::min(end, request.num_prompt_tokens() - 1);
    if (request.sampling_params().prompt_logprobs.has_value() && start < prompt_end) {
      if (layout != nullptr) {
        layout->prompt_rows.push_back({scheduled.request, start,
                                       static_cast<int32_t>(batch.logits_indices.size()),
                                       static_cast<int32_t>(prompt_end - start)});
      }
      for (int64_t position = start; position < prompt_end; ++position) {
        batch.logits_indices.push_back(static_cast<int32_t>(first_token + position - start));
      }
    }
    if (end == request.num_tokens()) {
      if (layout != nullptr) {
        layout->sample_rows.push_back(static_cast<int32_t>(batch.logits_indices.size()));
      }
      batch.logits_indices.push_back(static_cast<int32_t>(batch.input_ids.size()) - 1);
      if (sampling_requests != nullptr) sampling_requests->push_back(scheduled.request);
    }
  }
  return batch;
}

SamplingRow make_sampling_row(Request& request) {
  const SamplingParams& params = request.sampling_params();
  SamplingRow row;
  row.temperature = params.temperature;
  row.top_k = params.top_k;
  row.top_p = params.top_p;
  row.min_p = params.min_p;
  row.num_logprobs = params.logprobs.has_value() ? *params.logprobs : -2;
  row.generator = &request.generator;
  row.params = &request.sampling_params();
  row.prompt_token_ids = request.prompt_token_ids();
  row.output_token_ids = request.output_token_ids();
  // min_tokens: EOS and the stop token ids cannot end the request before then, so they
  // are masked rather than sampled and ignored (as vLLM's MinTokensLogitsProcessor does).
  if (request.num_output_tokens() < params.min_tokens) {
    row.banned_token_ids = params.stop_token_ids;
    if (request.eos_token_id().has_value() && !params.ignore_eos) {
      row.banned_token_ids.push_back(*request.eos_token_id());
    }
  }
  return row;
}

std::unordered_map<std::string, PromptLogprobsChunk> ModelRunner::compute_prompt_logprobs(
    const std::vector<PromptLogitsRows>& prompt_rows, int64_t vocab_size) const {
  std::unordered_map<std::string, PromptLogprobsChunk> result;
  for (const PromptLogitsRows& rows : prompt_rows) {
    const Request& request = *rows.request;
    const int num_logprobs = *request.sampling_params().prompt_logprobs;
    PromptLogprobsChunk& chunk = result[request.request_id()];
    chunk.first_position = rows.first_position;
    for (int32_t i = 0; i < rows.num_rows; ++i) {
      const std::span<const float> row_logits(
          logits_.data() + static_cast<int64_t>(rows.first_row + i) * vocab_size, vocab_size);
      const int32_t next_token = request.prompt_token_ids()[rows.first_position + i + 1];
      chunk.logprobs.push_back(compute_token_logprobs(row_logits, next_token, num_logprobs));
    }
  }
  return result;
}

ModelRunnerOutput ModelRunner::execute(const SchedulerOutput& scheduler_output) {
  std::vector<Request*> sampling_requests;
  LogitsLayout layout;
  ForwardBatch batch = build_batch(scheduler_output, &sampling_requests, &layout);
  std::vector<SamplingRow> rows;
  rows.reserve(sampling_requests.size());
  for (Request* request : sampling_requests) rows.push_back(make_sampling_row(*request));
  // Greedy rows without logprobs let the LM head skip the logits that cannot be the largest.
  batch.logits_max_only.assign(batch.logits_indices.size(), 0);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (samples_largest_only(rows[i])) batch.logits_max_only[layout.sample_rows[i]] = 1;
  }
  const int64_t vocab_size = model_.config().vocab_size;
  const size_t num_logit_floats = batch.logits_indices.size() * static_cast<size_t>(vocab_size);
  if (num_logit_floats > logits_.capacity()) {
    // Free the old buffer before growing: resize would keep both for a moment, and a
    // 64-row step of a 262,144-token vocabulary needs 67 MB of logits.
    std::vector<float>().swap(logits_);
  }
  // No fill needed: the LM head writes every logit. resize zeroes only the elements past
  // the previous size, which a step of the same shape does not have.
  logits_.resize(num_logit_floats);
  if (batch.num_tokens() <= kMaxForwardTokens) {
    model_.forward(batch, kv_cache_, logits_);
  } else {
    // A long prefill step runs in parts, so that the activations the model keeps (about
    // 34 KB per token for Gemma 3 270M) stay a few tens of MB instead of growing with
    // max_num_batched_tokens. The logits are the same.
    size_t first_row = 0;
    for (const ForwardBatch& part : split_forward_batch(batch, kMaxForwardTokens)) {
      const size_t num_floats = part.logits_indices.size() * static_cast<size_t>(vocab_size);
      model_.forward(part, kv_cache_,
                     std::span<float>(logits_).subspan(first_row * static_cast<size_t>(vocab_size),
                                                       num_floats));
      first_row += part.logits_indices.size();
    }
  }

  ModelRunnerOutput output;
  std::span<const float> sample_logits = logits_;
  if (!layout.prompt_rows.empty()) {
    output.prompt_logprobs = compute_prompt_logprobs(layout.prompt_rows, vocab_size);
    // Gather the sampling rows, which prompt rows interleave.
    sample_logits_.clear();
    for (int32_t row : layout.sample_rows) {
      const auto begin = logits_.begin() + static_cast<int64_t>(row) * vocab_size;
      sample_logits_.insert(sample_logits_.end(), begin, begin + vocab_size);
    }
    sample_logits = sample_logits_;
  }

  std::vector<SampledToken> sampled = sampler_.sample(sample_logits, vocab_size, rows);

  for (size_t i = 0; i < sampling_requests.size(); ++i) {
    output.sampled.emplace(sampling_requests[i]->request_id(), std::move(sampled[i]));
  }
  return output;
}

}  // namespace vllm
