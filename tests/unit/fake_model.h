// Test doubles for the engine: a Model whose logits are a deterministic function of each
// sequence's own token history as read back through the paged KV cache, and a tiny
// tokenizer with one ASCII character per token.
//
// FakeModel writes (token id, position + 1) of every new token into the K cache at its
// slot, then, for each row that needs logits, reads the whole context back through the
// sequence's block table and hashes it. A wrong slot mapping, block table, seq_len or a
// block reused while still live changes the hash, so the outputs change and tests catch it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/errors.h"
#include "models/model.h"
#include "tokenizer/tokenizer.h"

namespace vllm::testing {

inline uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Logits of a context with hash `context_hash`: values in [-3, 3).
inline void fake_logits(uint64_t context_hash, std::span<float> row) {
  for (size_t v = 0; v < row.size(); ++v) {
    const uint64_t bits = mix64(context_hash ^ mix64(v + 1));
    row[v] = static_cast<float>(static_cast<double>(bits >> 11) * 0x1.0p-53 * 6.0 - 3.0);
  }
}

// Hash of a token history, the scalar reference the model must reproduce.
inline uint64_t fake_context_hash(std::span<const int32_t> tokens) {
  uint64_t hash = 1469598103934665603ULL;
  for (size_t position = 0; position < tokens.size(); ++position) {
    hash = mix64(hash ^ (static_cast<uint64_t>(tokens[position]) << 20) ^ position);
  }
  return hash;
}

class FakeModel : public Model {
 public:
  explicit FakeModel(int64_t vocab_size = 64, int64_t max_position_embeddings = 256) {
    config_.architecture = "FakeForCausalLM";
    config_.model_type = "fake";
    config_.vocab_size = vocab_size;
    config_.hidden_size = 2;
    config_.num_hidden_layers = 1;
    config_.num_attention_heads = 1;
    config_.num_key_value_heads = 1;
    config_.head_dim = 2;
    config_.max_position_embeddings = max_position_embeddings;
  }

  const ModelConfig& config() const override { return config_; }

  void forward(const ForwardBatch& batch, KVCache& kv_cache, std::span<float> logits) override {
    if (step_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(step_delay_ms));
    const int64_t block_size = kv_cache.block_size();
    float* keys = kv_cache.key_cache(0);  // [num_blocks, block_size, 1, 2]
    for (int32_t t = 0; t < batch.num_tokens(); ++t) {
      if (batch.input_ids[t] == poison_token.load()) {
        throw std::runtime_error("fake model failure on poison token");
      }
      const int64_t slot = batch.slot_mapping[t];
      VLLM_CHECK(slot >= block_size && slot < kv_cache.num_blocks() * block_size,
                 "slot {} is in the null block or out of the cache", slot);
      keys[slot * 2 + 0] = static_cast<float>(batch.input_ids[t]);
      keys[slot * 2 + 1] = static_cast<float>(batch.positions[t] + 1);
    }

    const int64_t vocab_size = config_.vocab_size;
    for (size_t i = 0; i < batch.logits_indices.size(); ++i) {
      const int32_t t = batch.logits_indices[i];
      int32_t s = 0;
      while (batch.query_start_loc[s + 1] <= t) ++s;
      const int32_t position = batch.positions[t];
      // The context of token t: positions [0, position], read through the block table.
      std::vector<int32_t> context;
      for (int32_t q = 0; q <= position; ++q) {
        const int64_t block_id =
            batch.block_tables[static_cast<size_t>(s) * batch.max_blocks_per_seq + q / block_size];
        const int64_t slot = block_id * block_size + q % block_size;
        const float stored_token = keys[slot * 2 + 0];
        const float stored_position = keys[slot * 2 + 1];
        // A slot holding another position means corrupt paging, so the history is poisoned.
        context.push_back(stored_position == static_cast<float>(q + 1)
                              ? static_cast<int32_t>(stored_token)
                              : -1000 - q);
      }
      fake_logits(fake_context_hash(context), logits.subspan(i * vocab_size, vocab_size));
    }
    ++num_forward_calls;
  }

  std::atomic<int32_t> poison_token{-1};  // a token id that makes forward throw
  std::atomic<int64_t> num_forward_calls{0};
  std::atomic<int> step_delay_ms{0};  // sleep per forward call, to slow the engine down

 private:
  ModelConfig config_;
};

// Token 0 is "</s>" (special, EOS). Token i >= 1 is the ASCII character 33 + i.
class FakeTokenizer : public Tokenizer {
 public:
  explicit FakeTokenizer(int32_t vocab_size = 64) : vocab_size_(vocab_size) {}

  std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<int32_t> ids;
    for (char c : text) {
      const int32_t id = static_cast<unsigned char>(c) - 33;
      ids.push_back(id >= 1 && id < vocab_size_ ? id : 1);
    }
    return ids;
  }
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens) const override {
    std::string text;
    for (int32_t id : ids) {
      if (skip_special_tokens && is_special(id)) continue;
      text += token_bytes(id);
    }
    return text;
  }
  std::string id_to_token(int32_t id) const override { return token_bytes(id); }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    if (token == "</s>") return 0;
    if (token.size() == 1) return static_cast<unsigned char>(token[0]) - 33;
    return std::nullopt;
  }
  std::string token_bytes(int32_t id) const override {
    if (id < 0 || id >= vocab_size_) throw InvalidArgument("token id out of range");
    if (id == 0) return "</s>";
    return std::string(1, static_cast<char>(33 + id));
  }
  int32_t vocab_size() const override { return vocab_size_; }
  bool is_special(int32_t id) const override { return id == 0; }
  std::optional<int32_t> bos_token_id() const override { return std::nullopt; }
  std::optional<int32_t> eos_token_id() const override { return 0; }
  const std::string& chat_template() const override { return chat_template_; }

 private:
  int32_t vocab_size_;
  std::string chat_template_;
};

// Scalar reference: the token the fake model's logits pick greedily after `tokens`
// (highest logit, lowest id on ties).
inline int32_t fake_greedy_next(std::span<const int32_t> tokens, int64_t vocab_size) {
  std::vector<float> row(static_cast<size_t>(vocab_size));
  fake_logits(fake_context_hash(tokens), row);
  int32_t best = 0;
  for (int32_t v = 1; v < vocab_size; ++v) {
    if (row[v] > row[best]) best = v;
  }
  return best;
}

}  // namespace vllm::testing
