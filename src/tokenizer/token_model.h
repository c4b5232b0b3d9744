// Models of the general tokenizer.json pipeline: turn one pre-tokenized piece into ids.
// Each mirrors the HF `tokenizers` model of the same name.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/bpe_model.h"

namespace vllm {

class TokenModel {
 public:
  virtual ~TokenModel() = default;
  // Appends the ids of `piece` to `ids`.
  virtual void tokenize(std::string_view piece, std::vector<int32_t>& ids) const = 0;
  // Vocabulary strings by id (empty for an id the model does not define).
  virtual const std::vector<std::string>& tokens() const = 0;
  virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
  // Whether the model spells bytes it cannot encode otherwise as <0xXX> tokens.
  virtual bool byte_fallback() const { return false; }
};

struct BpeOptions {
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  bool byte_fallback = false;
  bool ignore_merges = false;
};

// BPE over the characters of the piece: each character is a symbol (or its <0xXX> byte
// tokens with byte_fallback, or the unk token), then ranked merges as HF applies them.
// Throws std::invalid_argument for a merge outside the vocabulary.
std::unique_ptr<TokenModel> make_bpe_model(
    std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
    BpeOptions options);

// WordPiece: greedy longest-prefix matching, with later pieces looked up under the
// continuing-subword prefix. A word with an unknown part, or longer than
// max_input_chars_per_word characters, becomes the unk token alone.
std::unique_ptr<TokenModel> make_wordpiece_model(std::vector<std::string> tokens,
                                                 std::string unk_token,
                                                 std::string continuing_subword_prefix,
                                                 size_t max_input_chars_per_word);

// Unigram: the segmentation with the highest total score (Viterbi with HF's tie rule, so
// the earliest-found candidate wins). Characters outside the vocabulary score min - 10 as
// unk and, with byte_fallback, become their <0xXX> tokens. Throws std::invalid_argument
// without a valid unk_id.
std::unique_ptr<TokenModel> make_unigram_model(std::vector<std::pair<std::string, double>> vocab,
                                               std::optional<int32_t> unk_id,
                                               bool byte_fallback);

// "<0x0A>" for byte 10, as SentencePiece names byte tokens.
std::string byte_token_name(uint8_t byte);
// The byte of a "<0xXX>" token, or nullopt for any other string.
std::optional<uint8_t> parse_byte_token(std::string_view token);

}  // namespace vllm
