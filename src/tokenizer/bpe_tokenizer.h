// Byte-level BPE tokenizer (GPT-2 family): added tokens split out first, then a
// pre-tokenizer, then BPE over the bytes of each piece shown in GPT-2's byte alphabet.
// Both the tokenizer.json and the GGUF loaders build one from a ByteLevelBpeConfig.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe_model.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/word_cache.h"

namespace vllm {

struct ByteLevelBpeConfig {
  std::string source;                 // file the tokenizer came from, for messages
  std::vector<std::string> tokens;    // vocabulary string of each id (byte alphabet)
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  // HF BPE ignore_merges: a piece that is a vocabulary entry as a whole is taken as is.
  bool ignore_merges = false;
  std::vector<AddedToken> added_tokens;
  std::unique_ptr<PreTokenizer> pre_tokenizer;  // nullptr: the whole text is one piece
  // Ids placed before and after the text when encode(add_special_tokens=true).
  std::vector<int32_t> prefix_ids;
  std::vector<int32_t> suffix_ids;
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> eos_token_id;
  std::string chat_template;
};

class ByteLevelBpeTokenizer final : public Tokenizer {
 public:
  // Throws ModelLoadError naming config.source for an inconsistent vocabulary or merges.
  explicit ByteLevelBpeTokenizer(ByteLevelBpeConfig config);

  std::vector<int32_t> encode(std::string_view text,
                              bool add_special_tokens = true) const override;
  std::string decode(std::span<const int32_t> ids,
                     bool skip_special_tokens = false) const override;
  std::string id_to_token(int32_t id) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string token_bytes(int32_t id) const override;
  int32_t vocab_size() const override { return model_->vocab_size(); }
  bool is_special(int32_t id) const override;
  std::optional<int32_t> bos_token_id() const override { return bos_token_id_; }
  std::optional<int32_t> eos_token_id() const override { return eos_token_id_; }
  const std::string& chat_template() const override { return chat_template_; }

  // Sets what tokenizer_config.json adds; a nullopt id or empty template keeps the current.
  void set_chat_metadata(std::optional<int32_t> bos_token_id,
                         std::optional<int32_t> eos_token_id, std::string chat_template);

 private:
  void check_id(int32_t id) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>& ids) const;

  std::string source_;
  std::unique_ptr<BpeModel> model_;
  bool ignore_merges_ = false;
  std::unique_ptr<AddedTokenMatcher> added_tokens_;
  std::unordered_map<std::string, int32_t> added_token_ids_;  // content -> id
  std::unordered_map<int32_t, std::string> added_token_contents_;  // id -> content
  std::unique_ptr<PreTokenizer> pre_tokenizer_;
  std::vector<int32_t> prefix_ids_;
  std::vector<int32_t> suffix_ids_;
  std::optional<int32_t> bos_token_id_;
  std::optional<int32_t> eos_token_id_;
  std::string chat_template_;
  std::vector<std::string> token_bytes_;  // decoded bytes of each id
  std::vector<uint8_t> special_;          // 1 for special added tokens
  std::array<int32_t, 256> byte_ids_{};   // id of each byte's one-character token, or -1
  mutable WordCache cache_{1 << 16, 64};
};

}  // namespace vllm
