// Token embedding table; each looked-up row is dequantized from the file format.
#pragma once

#include <span>

#include "kernels/ops.h"

namespace vllm {

class VocabEmbedding {
 public:
  VocabEmbedding() = default;
  explicit VocabEmbedding(WeightMatrix table) : table_(table) {}

  const WeightMatrix& weight() const { return table_; }
  void forward(std::span<const int32_t> token_ids,  // [num_tokens]
               std::span<float> out) const {        // [num_tokens, hidden_size]
    ops::embedding(table_, token_ids, out);
  }

 private:
  WeightMatrix table_;  // [vocab_size, hidden_size]
};

}  // namespace vllm
