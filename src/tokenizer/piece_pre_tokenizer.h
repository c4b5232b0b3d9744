// Pre-tokenizers of the general tokenizer.json pipeline. Unlike pre_tokenizer.h (byte ranges
// of the raw text, for byte-level BPE), these work on normalized text and may rewrite it, as
// HF's Metaspace and ByteLevel do. Each class mirrors the HF pre-tokenizer of the same name.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vllm {

// One piece of normalized text.
struct Piece {
  std::string text;
  // The piece starts at offset 0 of the encoded text (HF's offsets_original().0 == 0):
  // Metaspace with prepend_scheme "first" adds its replacement only there.
  bool at_start = false;
};

class PiecePreTokenizer {
 public:
  virtual ~PiecePreTokenizer() = default;
  // Replaces `pieces` by their splits, in order.
  virtual void split(std::vector<Piece>& pieces) const = 0;
};

// HF SplitDelimiterBehavior: what happens to the matched delimiters.
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Parses "Removed", "Isolated", ... (HF's serialized names; also lowercase ones); throws
// std::invalid_argument for another name.
SplitBehavior parse_split_behavior(std::string_view name);

// Split: a literal string or an HF regex as delimiter.
std::unique_ptr<PiecePreTokenizer> make_split_pre_tokenizer(std::string pattern, bool is_regex,
                                                            SplitBehavior behavior, bool invert);

// ByteLevel: optional leading space, optional GPT-2 regex split, then each byte shown in
// GPT-2's byte alphabet.
std::unique_ptr<PiecePreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space,
                                                                 bool use_regex);

// Metaspace: spaces become `replacement`; prepend_scheme is "always", "first" or "never";
// with `split`, each replacement starts a new piece.
std::unique_ptr<PiecePreTokenizer> make_metaspace_pre_tokenizer(std::string replacement,
                                                                std::string_view prepend_scheme,
                                                                bool split);

// Whitespace: runs of word characters and runs of other non-space characters.
std::unique_ptr<PiecePreTokenizer> make_whitespace_pre_tokenizer();
// WhitespaceSplit: splits on whitespace, dropping it.
std::unique_ptr<PiecePreTokenizer> make_whitespace_split_pre_tokenizer();
// BertPreTokenizer: splits on whitespace (dropped), then isolates each punctuation char.
std::unique_ptr<PiecePreTokenizer> make_bert_pre_tokenizer();
// Punctuation: each punctuation character is a delimiter with `behavior`.
std::unique_ptr<PiecePreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior);
// Digits: numeric characters isolated, one by one or as runs.
std::unique_ptr<PiecePreTokenizer> make_digits_pre_tokenizer(bool individual_digits);
std::unique_ptr<PiecePreTokenizer> make_sequence_pre_tokenizer(
    std::vector<std::unique_ptr<PiecePreTokenizer>> steps);

}  // namespace vllm
