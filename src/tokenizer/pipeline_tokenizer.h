// General HF tokenizer pipeline: added tokens, normalizer, pre-tokenizer, model (BPE with
// byte fallback, WordPiece, Unigram), post-processor ids and decoder, in HF's order. Used for
// every tokenizer.json that is not plain byte-level BPE and for GGUF SentencePiece vocabularies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/piece_pre_tokenizer.h"
#include "tokenizer/token_model.h"
#include "tokenizer/tokenizer.h"

namespace vllm {

struct PipelineConfig {
  std::string source;  // file the tokenizer came from, for messages
  std::unique_ptr<TokenModel> model;
  std::vector<AddedToken> added_tokens;
  std::unique_ptr<Normalizer> normalizer;           // nullptr: none
  std::unique_ptr<PiecePreTokenizer> pre_tokenizer; // nullptr: none
  std::unique_ptr<Decoder> decoder;                 // nullptr: tokens joined by ' '
  // With a ByteLevel decoder, token_bytes() maps through GPT-2's byte alphabet.
  bool byte_level_decoder = false;
  std::vector<int32_t> prefix_ids;  // added by encode(add_special_tokens=true)
  std::vector<int32_t> suffix_ids;
  std::optional<int32_t> bos_token_id;
  std::optional<int32_t> eos_token_id;
  std::string chat_template;
};

class PipelineTokenizer final : public Tokenizer {
 public:
  // Throws ModelLoadError naming config.source for an added token or template id outside
  // the vocabulary.
  explicit PipelineTokenizer(PipelineConfig config);

  std::vector<int32_t> encode(std::string_view text,
                              bool add_special_tokens = true) const override;
  std::string decode(std::span<const int32_t> ids,
                     bool skip_special_tokens = false) const override;
  std::string id_to_token(int32_t id) const override;
  std::optional<int32_t> token_to_id(std::string_view token) const override;
  std::string token_bytes(int32_t id) const override;
  int32_t vocab_size() const override { return vocab_size_; }
  bool is_special(int32_t id) const override;
  std::optional<int32_t> bos_token_id() const override { return bos_token_id_; }
  std::optional<int32_t> eos_token_id() const override { return eos_token_id_; }
  const std::string& chat_template() const override { return chat_template_; }

  // Sets what tokenizer_config.json adds; a nullopt id or empty template keeps the current.
  void set_chat_metadata(std::optional<int32_t> bos_token_id,
                         std::optional<int32_t> eos_token_id, std::string chat_template);

 private:
  void check_id(int32_t id) const;
  const std::string& token_string(int32_t id) const;

  std::string source_;
  std::unique_ptr<TokenModel> model_;
  std::unique_ptr<Normalizer> normalizer_;
  std::unique_ptr<PiecePreTokenizer> pre_tokenizer_;
  std::unique_ptr<Decoder> decoder_;
  bool byte_level_decoder_ = false;
  std::unique_ptr<AddedTokenMatcher> added_tokens_;
  std::unordered_map<std::string, int32_t> added_token_ids_;       // content -> id
  std::unordered_map<int32_t, std::string> added_token_contents_;  // id -> content
  std::vector<uint8_t> special_;  // 1 for special added tokens
  int32_t vocab_size_ = 0;
  std::vector<int32_t> prefix_ids_;
  std::vector<int32_t> suffix_ids_;
  std::optional<int32_t> bos_token_id_;
  std::optional<int32_t> eos_token_id_;
  std::string chat_template_;
};

}  // namespace vllm
