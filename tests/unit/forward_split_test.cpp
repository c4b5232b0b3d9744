// split_forward_batch: the parts' layout, and that running them in order gives the bits of
// the whole batch on a tiny Llama.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "models/model.h"
#include "models/registry.h"

namespace vllm {
namespace {

constexpr int64_t kBlockSize = 16;

// A step of `query_lens[s]` new tokens for each sequence s, after `computed[s]` cached
// tokens. Sequence s owns blocks [s * blocks_per_seq + 1, ...). With `all_logits` every token
// has a logits row, otherwise only each sequence's last token.
ForwardBatch make_batch(const std::vector<int32_t>& computed,
                        const std::vector<int32_t>& query_lens, int32_t blocks_per_seq,
                        bool all_logits) {
  ForwardBatch batch;
  batch.max_blocks_per_seq = blocks_per_seq;
  batch.query_start_loc.push_back(0);
  for (size_t s = 0; s < computed.size(); ++s) {
    const int32_t end = computed[s] + query_lens[s];
    for (int32_t p = computed[s]; p < end; ++p) {
      batch.input_ids.push_back(static_cast<int32_t>((7 * p + 13 * s) % 200 + 3));
      batch.positions.push_back(p);
      const int64_t block = static_cast<int64_t>(s) * blocks_per_seq + 1 + p / kBlockSize;
      batch.slot_mapping.push_back(block * kBlockSize + p % kBlockSize);
      if (all_logits || p == end - 1) batch.logits_indices.push_back(batch.num_tokens() - 1);
    }
    batch.query_start_loc.push_back(batch.num_tokens());
    batch.seq_lens.push_back(end);
    for (int32_t b = 0; b < blocks_per_seq; ++b) {
      batch.block_tables.push_back(static_cast<int32_t>(s) * blocks_per_seq + 1 + b);
    }
  }
  return batch;
}

TEST(ForwardSplit, PartsCoverTheBatch) {
  const ForwardBatch batch = make_batch({0, 10, 3}, {5, 700, 3}, 50, false);
  const std::vector<ForwardBatch> parts = split_forward_batch(batch, 256);
  ASSERT_EQ(parts.size(), 3u);  // 708 tokens

  // Part 0: sequence 0 whole, the first 251 new tokens of sequence 1.
  EXPECT_EQ(parts[0].num_tokens(), 256);
  EXPECT_EQ(parts[0].query_start_loc, (std::vector<int32_t>{0, 5, 256}));
  EXPECT_EQ(parts[0].seq_lens, (std::vector<int32_t>{5, 10 + 251}));
  EXPECT_EQ(parts[0].logits_indices, (std::vector<int32_t>{4}));
  // Part 1: 256 more tokens of sequence 1, no logits.
  EXPECT_EQ(parts[1].query_start_loc, (std::vector<int32_t>{0, 256}));
  EXPECT_EQ(parts[1].seq_lens, (std::vector<int32_t>{10 + 507}));
  EXPECT_TRUE(parts[1].logits_indices.empty());
  // Part 2: the last 193 tokens of sequence 1, then sequence 2.
  EXPECT_EQ(parts[2].query_start_loc, (std::vector<int32_t>{0, 193, 196}));
  EXPECT_EQ(parts[2].seq_lens, (std::vector<int32_t>{710, 6}));
  EXPECT_EQ(parts[2].logits_indices, (std::vector<int32_t>{192, 195}));
  EXPECT_EQ(parts[2].block_tables.size(), 2u * 50);
  EXPECT_EQ(parts[2].block_tables[50], 2 * 50 + 1);  // sequence 2's first block
}

TEST(ForwardSplit, SmallBatchIsOnePart) {
  const ForwardBatch batch = make_batch({0}, {12}, 2, true);
  const std::vector<ForwardBatch> parts = split_forward_batch(batch, 512);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0].input_ids, batch.input_ids);
  EXPECT_EQ(parts[0].logits_indices, batch.logits_indices);
}

TEST(ForwardSplit, PartsGiveTheLogitsOfTheWholeBatch) {
  const std::string dir = std::string(VLLM_TEST_DATA_DIR) + "/tiny_models/llama";
  std::unique_ptr<Model> model = load_hf_model(dir, "float32");
  const ModelConfig& c = model->config();
  const int32_t blocks_per_seq = 4;
  // Two prompts, every token's logits, split so that both sequences straddle a boundary.
  const ForwardBatch batch = make_batch({0, 0}, {40, 30}, blocks_per_seq, true);
  const auto num_blocks = static_cast<int64_t>(2 * blocks_per_seq + 1);
  const size_t num_logits = batch.logits_indices.size() * static_cast<size_t>(c.vocab_size);

  KVCache whole_cache(c.num_hidden_layers, num_blocks, kBlockSize, c.num_key_value_heads,
                      c.head_dim);
  std::vector<float> whole(num_logits);
  model->forward(batch, whole_cache, whole);

  KVCache split_cache(c.num_hidden_layers, num_blocks, kBlockSize, c.num_key_value_heads,
                      c.head_dim);
  std::vector<float> split(num_logits);
  size_t row = 0;
  for (const ForwardBatch& part : split_forward_batch(batch, 16)) {
    const size_t floats = part.logits_indices.size() * static_cast<size_t>(c.vocab_size);
    const size_t first = row * static_cast<size_t>(c.vocab_size);
    model->forward(part, split_cache, std::span<float>(split).subspan(first, floats));
    row += part.logits_indices.size();
  }
  ASSERT_EQ(row, batch.logits_indices.size());
  for (size_t i = 0; i < num_logits; ++i) {
    ASSERT_EQ(split[i], whole[i]) << "logit " << i << " (row " << i / c.vocab_size << ")";
  }
}

}  // namespace
}  // namespace vllm
