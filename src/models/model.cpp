#include "models/model.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/errors.h"

namespace vllm {

void check_forward_batch(const ForwardBatch& batch, std::span<const float> logits,
                         int64_t vocab_size) {
  if (batch.positions.size() != batch.input_ids.size() ||
      batch.slot_mapping.size() != batch.input_ids.size()) {
    throw InvalidArgument(fmt::format(
        "batch of {} tokens has {} positions and {} slots; expected one of each per token",
        batch.num_tokens(), batch.positions.size(), batch.slot_mapping.size()));
  }
  const auto num_logits = static_cast<int64_t>(batch.logits_indices.size());
  if (!batch.logits_max_only.empty() &&
      static_cast<int64_t>(batch.logits_max_only.size()) != num_logits) {
    throw InvalidArgument(fmt::format("batch has {} max-only flags for {} logits rows",
                                      batch.logits_max_only.size(), num_logits));
  }
  if (static_cast<int64_t>(logits.size()) != num_logits * vocab_size) {
    throw InvalidArgument(fmt::format("logits buffer has {} floats, expected {} x {}",
                                      logits.size(), num_logits, vocab_size));
  }
}

std::vector<ForwardBatch> split_forward_batch(const ForwardBatch& batch, int32_t max_tokens) {
  VLLM_CHECK(max_tokens > 0, "max_tokens must be positive, got {}", max_tokens);
  VLLM_CHECK(std::is_sorted(batch.logits_indices.begin(), batch.logits_indices.end()),
             "split_forward_batch needs logits_indices in increasing order");
  std::vector<ForwardBatch> parts;
  const int32_t num_tokens = batch.num_tokens();
  size_t next_logit = 0;
  for (int32_t first = 0; first < num_tokens; first += max_tokens) {
    const int32_t end = std::min(num_tokens, first + max_tokens);
    ForwardBatch part;
    part.max_blocks_per_seq = batch.max_blocks_per_seq;
    part.input_ids.assign(batch.input_ids.begin() + first, batch.input_ids.begin() + end);
    part.positions.assign(batch.positions.begin() + first, batch.positions.begin() + end);
    part.slot_mapping.assign(batch.slot_mapping.begin() + first,
                             batch.slot_mapping.begin() + end);
    part.query_start_loc.push_back(0);
    for (int32_t s = 0; s < batch.num_seqs(); ++s) {
      const int32_t seq_first = std::max(first, batch.query_start_loc[s]);
      const int32_t seq_end = std::min(end, batch.query_start_loc[s + 1]);
      if (seq_first >= seq_end) continue;
      part.query_start_loc.push_back(seq_end - first);
      // The context ends at this part's last token of the sequence.
      part.seq_lens.push_back(batch.seq_lens[s] - (batch.query_start_loc[s + 1] - seq_end));
      const auto row =
          batch.block_tables.begin() + static_cast<int64_t>(s) * batch.max_blocks_per_seq;
      part.block_tables.insert(part.block_tables.end(), row, row + batch.max_blocks_per_seq);
    }
    while (next_logit < batch.logits_indices.size() && batch.logits_indices[next_logit] < end) {
      part.logits_indices.push_back(batch.logits_indices[next_logit] - first);
      if (!batch.logits_max_only.empty()) {
        part.logits_max_only.push_back(batch.logits_max_only[next_logit]);
      }
      ++next_logit;
    }
    parts.push_back(std::move(part));
  }
  return parts;
}

}  // namespace vllm
