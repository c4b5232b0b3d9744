// Added tokens (special tokens such as "<|im_start|>" and user-added ones) are split out of
// the text before pre-tokenization, as HF's AddedVocabulary does: leftmost-longest matches,
// first of the tokens that match raw text (normalized=false), then of the others within the
// remaining text.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/pre_tokenizer.h"

namespace vllm {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;      // skipped by decode(skip_special_tokens=true)
  bool normalized = false;   // matched after normalization (in the second pass)
  bool lstrip = false;       // the match also takes the whitespace before it
  bool rstrip = false;       // the match also takes the whitespace after it
  bool single_word = false;  // only matches when no word character touches either end
};

// A piece of text: ordinary text (added_token_id < 0) or one added token.
struct TextSegment {
  TextSpan span;
  int32_t added_token_id = -1;
};

class AddedTokenMatcher {
 public:
  explicit AddedTokenMatcher(std::vector<AddedToken> tokens);
  AddedTokenMatcher(const AddedTokenMatcher&) = delete;
  AddedTokenMatcher& operator=(const AddedTokenMatcher&) = delete;
  ~AddedTokenMatcher();

  // Appends the segments of `text` in order; empty ordinary segments are left out.
  void split(std::string_view text, std::vector<TextSegment>& segments) const;
  // The two passes one at a time, for pipelines that normalize between them: the tokens
  // with normalized=false in raw text, then the others in a normalized segment.
  void split_raw(std::string_view text, std::vector<TextSegment>& segments) const;
  void split_normalized(std::string_view text, std::vector<TextSegment>& segments) const;

 private:
  // Byte trie of one pass's token contents.
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
      int32_t token_index = -1;  // index into tokens_ of the content ending here
    };
    std::vector<Node> nodes{Node{}};
    bool first_bytes[256] = {};
    void insert(std::string_view content, int32_t token_index);
    // Finds the longest token content that starts at text[pos]. Returns its length (0 when
    // none matches) and sets token_index.
    size_t longest_match(std::string_view text, size_t pos, int32_t& token_index) const;
  };

  void split_pass(const Trie& trie, std::string_view text, TextSpan span,
                  std::vector<TextSegment>& segments) const;

  std::vector<AddedToken> tokens_;
  Trie raw_trie_;
  Trie normalized_trie_;
  bool has_raw_ = false;
  bool has_normalized_ = false;
  struct WordCharRegex;
  std::unique_ptr<WordCharRegex> word_char_;  // compiled only when a token is single_word
};

}  // namespace vllm
