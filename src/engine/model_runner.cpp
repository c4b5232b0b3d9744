#include "engine/model_runner.h"

#include <algorithm>

#include "core/errors.h"

namespace vllm {

ModelRunner::ModelRunner(Model& model, KVCache& kv_cache) : model_(model), kv_cache_(kv_cache) {}

ForwardBatch ModelRunner::build_batch(const SchedulerOutput& scheduler_output,
                                      std::vector<Request*>* sampling_requests) const {
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

    if (end == request.num_tokens()) {
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

ModelRunnerOutput ModelRunner::execute(const SchedulerOutput& scheduler_output) {
  std::vector<Request*> sampling_requests;
  const ForwardBatch batch = build_batch(scheduler_output, &sampling_requests);
  const int64_t vocab_size = model_.config().vocab_size;
  logits_.assign(batch.logits_indices.size() * static_cast<size_t>(vocab_size), 0.0f);
  model_.forward(batch, kv_cache_, logits_);

  std::vector<SamplingRow> rows;
  rows.reserve(sampling_requests.size());
  for (Request* request : sampling_requests) rows.push_back(make_sampling_row(*request));
  std::vector<SampledToken> sampled = sampler_.sample(logits_, vocab_size, rows);

  ModelRunnerOutput output;
  for (size_t i = 0; i < sampling_requests.size(); ++i) {
    output.sampled.emplace(sampling_requests[i]->request_id(), std::move(sampled[i]));
  }
  return output;
}

}  // namespace vllm
