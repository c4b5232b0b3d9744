// The model interface the engine's ModelRunner calls, and the batch it passes.
//
// A step's batch is flattened: the new tokens of every scheduled sequence are laid end to
// end. Sequence s owns tokens [query_start_loc[s], query_start_loc[s + 1]); its context is
// seq_lens[s] tokens, of which the last (query_start_loc[s + 1] - query_start_loc[s]) are
// new. Keys and values of new tokens are written to the paged cache at slot_mapping[t]
// (slot = block_id * block_size + offset in block) before attention reads the context
// through the sequence's block table.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/model_config.h"

namespace vllm {

struct ForwardBatch {
  std::vector<int32_t> input_ids;        // [num_tokens]
  std::vector<int32_t> positions;        // [num_tokens]
  std::vector<int64_t> slot_mapping;     // [num_tokens]
  std::vector<int32_t> query_start_loc;  // [num_seqs + 1]
  std::vector<int32_t> seq_lens;         // [num_seqs]
  std::vector<int32_t> block_tables;     // [num_seqs, max_blocks_per_seq], row-major
  int32_t max_blocks_per_seq = 0;
  std::vector<int32_t> logits_indices;   // [num_logits] token indices whose logits are needed
  // [num_logits] or empty: 1 where only the row's largest logits are needed (greedy sampling
  // without logprobs), so that the LM head may skip the others (LogitsProcessor::forward).
  std::vector<uint8_t> logits_max_only;

  int32_t num_tokens() const { return static_cast<int32_t>(input_ids.size()); }
  int32_t num_seqs() const { return static_cast<int32_t>(seq_lens.size()); }
};

// Splits `batch` at token boundaries into parts of at most `max_tokens` tokens, in order.
// A sequence that straddles a boundary is in both parts, its first part's context ending at
// its last token there. Each part's logits_indices are its own token indices, and its logits
// rows are the next contiguous range of the whole batch's (logits_indices must increase).
// Running the parts in order gives the same KV cache and logits as the whole batch. The
// kernels compute each token independently of the batch around it, and a later part reads
// the earlier parts' keys and values from the cache.
std::vector<ForwardBatch> split_forward_batch(const ForwardBatch& batch, int32_t max_tokens);

// Paged KV cache storage for all layers, allocated once.
// Per layer: key and value caches of [num_blocks, num_kv_heads, block_size, head_dim] floats.
class KVCache {
 public:
  KVCache(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t num_kv_heads,
          int64_t head_dim);

  static int64_t bytes_per_block(int64_t num_layers, int64_t block_size, int64_t num_kv_heads,
                                 int64_t head_dim);

  float* key_cache(int64_t layer);    // [num_blocks, num_kv_heads, block_size, head_dim]
  float* value_cache(int64_t layer);  // [num_blocks, num_kv_heads, block_size, head_dim]
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_kv_heads() const { return num_kv_heads_; }
  int64_t head_dim() const { return head_dim_; }

 private:
  int64_t num_layers_, num_blocks_, block_size_, num_kv_heads_, head_dim_;
  struct FreeDeleter {
    void operator()(float* pointer) const;
  };
  // [num_layers, 2, num_blocks, num_kv_heads, block_size, head_dim]. Allocated with malloc
  // and zeroed at start, so that the whole budget is resident from the beginning.
  std::unique_ptr<float, FreeDeleter> storage_;
};

class Model {
 public:
  virtual ~Model() = default;
  virtual const ModelConfig& config() const = 0;

  // Runs one step. Writes the new tokens' K/V into `kv_cache`, and fills `logits`
  // ([num_logits, vocab_size], row i for token batch.logits_indices[i]) with float32 logits.
  // Row i depends only on its own sequence's tokens: never on the batch around it, how the
  // prompt was chunked, or the thread count.
  virtual void forward(const ForwardBatch& batch, KVCache& kv_cache,
                       std::span<float> logits) = 0;
};

// Checks what every model's forward() needs of its arguments: one position and one slot per
// token, and `logits` ([num_logits, vocab_size] floats) sized for batch.logits_indices.
// Throws InvalidArgument naming the mismatched sizes.
void check_forward_batch(const ForwardBatch& batch, std::span<const float> logits,
                         int64_t vocab_size);

class GGUFFile;

// Builds the model class registered for the file's architecture; throws ModelLoadError for
// an unknown architecture or missing/misshapen tensors.
std::unique_ptr<Model> load_gguf_model(std::shared_ptr<GGUFFile> gguf);

// Reads the ModelConfig from GGUF metadata ({arch}.block_count, ...).
ModelConfig model_config_from_gguf(const GGUFFile& gguf);

}  // namespace vllm
