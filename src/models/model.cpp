#include "models/model.h"

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
  if (static_cast<int64_t>(logits.size()) != num_logits * vocab_size) {
    throw InvalidArgument(fmt::format("logits buffer has {} floats, expected {} x {}",
                                      logits.size(), num_logits, vocab_size));
  }
}

}  // namespace vllm
