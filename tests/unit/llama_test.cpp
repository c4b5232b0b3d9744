// Llama forward pass on the real SmolLM2-135M-Instruct Q4_1 GGUF: agreement with HF
// transformers on one prompt, and bit-identical logits across chunking, batching and threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/errors.h"
#include "kernels/ops.h"
#include "model_loader/gguf.h"
#include "models/model.h"
#include "test_model.h"

namespace vllm {
namespace {

constexpr int64_t kBlockSize = 16;
constexpr int64_t kNumBlocks = 64;

std::string model_path() { return testing::find_test_model(); }

// A sequence being run step by step: its tokens, its own blocks and how far it got.
struct Sequence {
  std::vector<int32_t> tokens;
  std::vector<int32_t> blocks;  // block table
  int64_t num_computed = 0;
};

class LlamaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (model_path().empty() || !std::filesystem::exists(model_path())) return;
    model_ = load_gguf_model(GGUFFile::open(model_path())).release();
  }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  void SetUp() override {
    if (model_ == nullptr) {
      // A model named by VLLM_TEST_MODEL must exist; only an unconfigured one skips.
      ASSERT_TRUE(model_path().empty()) << "model file not found: " << model_path();
      GTEST_SKIP() << "default model not found: run tools/fetch_default_model.sh or set "
                      "VLLM_TEST_MODEL";
    }
    saved_threads_ = num_threads();
    const ModelConfig& c = model_->config();
    cache_ = std::make_unique<KVCache>(c.num_hidden_layers, kNumBlocks, kBlockSize,
                                       c.num_key_value_heads, c.head_dim);
  }
  void TearDown() override { set_num_threads(saved_threads_); }

  // Runs one step: the next counts[i] tokens of seqs[i]. Returns the logits of each
  // sequence's last new token, [num_seqs, vocab_size].
  std::vector<float> step(const std::vector<Sequence*>& seqs, const std::vector<int64_t>& counts) {
    ForwardBatch batch;
    batch.query_start_loc.push_back(0);
    batch.max_blocks_per_seq = 0;
    for (auto* s : seqs)
      batch.max_blocks_per_seq = std::max<int32_t>(batch.max_blocks_per_seq, s->blocks.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
      Sequence& s = *seqs[i];
      for (int64_t p = s.num_computed; p < s.num_computed + counts[i]; ++p) {
        batch.input_ids.push_back(s.tokens[p]);
        batch.positions.push_back(static_cast<int32_t>(p));
        batch.slot_mapping.push_back(s.blocks[p / kBlockSize] * kBlockSize + p % kBlockSize);
      }
      s.num_computed += counts[i];
      batch.query_start_loc.push_back(static_cast<int32_t>(batch.input_ids.size()));
      batch.seq_lens.push_back(static_cast<int32_t>(s.num_computed));
      batch.logits_indices.push_back(static_cast<int32_t>(batch.input_ids.size() - 1));
      std::vector<int32_t> row(static_cast<size_t>(batch.max_blocks_per_seq), 0);
      std::copy(s.blocks.begin(), s.blocks.end(), row.begin());
      batch.block_tables.insert(batch.block_tables.end(), row.begin(), row.end());
    }
    std::vector<float> logits(seqs.size() * model_->config().vocab_size);
    model_->forward(batch, *cache_, logits);
    return logits;
  }

  // Runs a whole prompt in chunks of `chunk` tokens and returns the last token's logits.
  std::vector<float> run_prompt(Sequence seq, int64_t chunk) {
    std::vector<float> logits;
    while (seq.num_computed < static_cast<int64_t>(seq.tokens.size())) {
      const int64_t count =
          std::min<int64_t>(chunk, static_cast<int64_t>(seq.tokens.size()) - seq.num_computed);
      logits = step({&seq}, {count});
    }
    return logits;
  }

  static Model* model_;
  std::unique_ptr<KVCache> cache_;
  int saved_threads_ = 1;
};

Model* LlamaTest::model_ = nullptr;

// Arbitrary in-vocabulary token ids; the determinism tests need no meaningful text.
std::vector<int32_t> synthetic_prompt(int64_t length, int32_t seed) {
  std::vector<int32_t> ids;
  for (int64_t i = 0; i < length; ++i) ids.push_back(static_cast<int32_t>((seed + i * 7919) % 49152));
  return ids;
}

Sequence make_sequence(std::vector<int32_t> tokens, std::vector<int32_t> blocks) {
  return Sequence{std::move(tokens), std::move(blocks), 0};
}

TEST_F(LlamaTest, GreedyMatchesTransformers) {
  // "The capital of France is" tokenized by transformers 5.25.0 from the same GGUF:
  //   AutoTokenizer.from_pretrained("/work/cache", gguf_file=...)(text, add_special_tokens=False)
  // Golden logits from AutoModelForCausalLM.from_pretrained("/work/cache", gguf_file=
  //   "SmolLM2-135M-Instruct.Q4_1.gguf", dtype=torch.float32)(ids).logits[0, -1].topk(5)
  // with HF_HUB_OFFLINE=1 (torch 2.15.0 on CPU).
  Sequence seq = make_sequence({504, 3575, 282, 4649, 314}, {5});
  std::vector<float> logits = run_prompt(seq, 5);
  const int32_t top = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  EXPECT_EQ(top, 7042);  // " Paris"
  const std::pair<int32_t, float> golden[] = {
      {7042, 17.371262f}, {260, 14.888595f}, {4528, 13.244980f}, {2250, 13.009464f},
      {1315, 12.951519f}};
  for (auto [id, value] : golden) EXPECT_NEAR(logits[id], value, 1e-2) << "token " << id;
}

TEST_F(LlamaTest, ChunkedPrefillIdentical) {
  const std::vector<int32_t> prompt = synthetic_prompt(40, 11);
  // Shuffled, non-contiguous blocks, different for each run.
  const std::vector<float> whole = run_prompt(make_sequence(prompt, {9, 3, 30}), 40);
  const std::vector<int32_t> block_sets[] = {{1, 20, 7}, {40, 2, 13}, {8, 50, 33}};
  const int64_t chunks[] = {1, 5, 16};
  for (int i = 0; i < 3; ++i) {
    const std::vector<float> chunked = run_prompt(make_sequence(prompt, block_sets[i]), chunks[i]);
    ASSERT_EQ(chunked.size(), whole.size());
    EXPECT_TRUE(chunked == whole) << "chunks of " << chunks[i];
  }
}

TEST_F(LlamaTest, BatchedSequencesIdentical) {
  Sequence a = make_sequence(synthetic_prompt(21, 5), {4, 17});
  Sequence b = make_sequence(synthetic_prompt(9, 1000), {12});
  const std::vector<float> alone_a = run_prompt(a, 21);
  const std::vector<float> alone_b = run_prompt(b, 9);
  Sequence a2 = make_sequence(a.tokens, {25, 6});
  Sequence b2 = make_sequence(b.tokens, {31});
  const std::vector<float> batched = step({&a2, &b2}, {21, 9});
  const int64_t vocab = model_->config().vocab_size;
  EXPECT_TRUE(std::equal(alone_a.begin(), alone_a.end(), batched.begin())) << "sequence a";
  EXPECT_TRUE(std::equal(alone_b.begin(), alone_b.end(), batched.begin() + vocab)) << "sequence b";

  // A decode step of one sequence next to a prefill chunk of the other.
  a2.tokens.push_back(7042);
  a.tokens.push_back(7042);
  Sequence c = make_sequence(synthetic_prompt(12, 77), {40});
  const std::vector<float> mixed = step({&c, &a2}, {12, 1});
  Sequence a3 = make_sequence(a.tokens, {45, 46});
  const std::vector<float> decode_alone = run_prompt(a3, 21);
  EXPECT_TRUE(std::equal(decode_alone.begin(), decode_alone.end(), mixed.begin() + vocab))
      << "decode next to a prefill";
}

TEST_F(LlamaTest, ThreadCountIdentical) {
  const std::vector<int32_t> prompt = synthetic_prompt(24, 3);
  set_num_threads(1);
  const std::vector<float> one = run_prompt(make_sequence(prompt, {2, 3}), 24);
  set_num_threads(2);
  const std::vector<float> two = run_prompt(make_sequence(prompt, {4, 5}), 24);
  EXPECT_TRUE(one == two);
}

TEST_F(LlamaTest, RejectsBadLogitsBuffer) {
  ForwardBatch batch;
  batch.input_ids = {1};
  batch.positions = {0};
  batch.slot_mapping = {0};
  batch.query_start_loc = {0, 1};
  batch.seq_lens = {1};
  batch.block_tables = {0};
  batch.max_blocks_per_seq = 1;
  batch.logits_indices = {0};
  std::vector<float> too_small(10);
  EXPECT_THROW(model_->forward(batch, *cache_, too_small), InvalidArgument);
}

}  // namespace
}  // namespace vllm
