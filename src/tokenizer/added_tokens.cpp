#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "tokenizer/unicode_classes.h"
#include "tokenizer/utf8.h"

namespace vllm {
namespace {

// Rust's char::is_whitespace, the White_Space property; HF strips with regex \s, the same.
bool is_white_space(char32_t c) {
  return (c >= 0x9 && c <= 0xD) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Start of the code point that ends at text[end - 1].
size_t previous_char_start(std::string_view text, size_t end) {
  size_t pos = end - 1;
  while (pos > 0 && (static_cast<uint8_t>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

}  // namespace

// Classifies one code point as a word character (Rust regex \w) with PCRE2.
struct AddedTokenMatcher::WordCharRegex {
  RegexPreTokenizer regex{fmt::format("[{}]", unicode_classes::kWordChar)};
  bool is_match(std::string_view text, size_t begin, size_t end) const;
};

void AddedTokenMatcher::Trie::insert(std::string_view content, int32_t token_index) {
  int32_t node = 0;
  for (char c : content) {
    const uint8_t byte = static_cast<uint8_t>(c);
    auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, uint8_t b) { return child.first < b; });
    if (it != children.end() && it->first == byte) {
      node = it->second;
      continue;
    }
    const int32_t child = static_cast<int32_t>(nodes.size());
    children.insert(it, {byte, child});
    nodes.emplace_back();
    node = child;
  }
  nodes[node].token_index = token_index;
  if (!content.empty()) first_bytes[static_cast<uint8_t>(content[0])] = true;
}

size_t AddedTokenMatcher::Trie::longest_match(std::string_view text, size_t pos,
                                              int32_t& token_index) const {
  size_t best_length = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(text[i]);
    const auto& children = nodes[node].children;
    auto it = std::lower_bound(children.begin(), children.end(), byte,
                               [](const auto& child, uint8_t b) { return child.first < b; });
    if (it == children.end() || it->first != byte) break;
    node = it->second;
    if (nodes[node].token_index >= 0) {
      best_length = i + 1 - pos;
      token_index = nodes[node].token_index;
    }
  }
  return best_length;
}

AddedTokenMatcher::AddedTokenMatcher(std::vector<AddedToken> tokens)
    : tokens_(std::move(tokens)) {
  bool any_single_word = false;
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& token = tokens_[i];
    if (token.content.empty()) continue;
    if (token.normalized) {
      normalized_trie_.insert(token.content, static_cast<int32_t>(i));
      has_normalized_ = true;
    } else {
      raw_trie_.insert(token.content, static_cast<int32_t>(i));
      has_raw_ = true;
    }
    any_single_word = any_single_word || token.single_word;
  }
  if (any_single_word) word_char_ = std::make_unique<WordCharRegex>();
}

AddedTokenMatcher::~AddedTokenMatcher() = default;

bool AddedTokenMatcher::WordCharRegex::is_match(std::string_view text, size_t begin,
                                                size_t end) const {
  // Split "cc" where c is the character: a class match yields two one-character pieces,
  // while a non-member yields the whole probe as a single gap.
  std::string probe(text.substr(begin, end - begin));
  probe += probe;
  std::vector<TextSpan> pieces;
  regex.split(probe, {0, probe.size()}, pieces);
  return pieces.size() == 2;
}

void AddedTokenMatcher::split_pass(const Trie& trie, std::string_view text, TextSpan span,
                                   std::vector<TextSegment>& segments) const {
  size_t segment_begin = span.begin;  // start of the ordinary text not yet emitted
  size_t pos = span.begin;
  const std::string_view scope = text.substr(0, span.end);
  while (pos < span.end) {
    if (!trie.first_bytes[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    int32_t token_index = -1;
    const size_t length = trie.longest_match(scope, pos, token_index);
    if (length == 0) {
      ++pos;
      continue;
    }
    size_t match_begin = pos;
    size_t match_end = pos + length;
    const AddedToken& token = tokens_[token_index];
    pos = match_end;  // the next search starts after this match even when it is dropped

    if (token.single_word) {
      const bool word_before =
          match_begin > span.begin &&
          word_char_->is_match(text, previous_char_start(text, match_begin), match_begin);
      bool word_after = false;
      if (match_end < span.end) {
        size_t next = match_end;
        utf8::decode_at(text, next);
        word_after = word_char_->is_match(text, match_end, next);
      }
      if (word_before || word_after) continue;
    }
    if (token.lstrip) {
      while (match_begin > segment_begin) {
        const size_t prev = previous_char_start(text, match_begin);
        size_t cursor = prev;
        if (!is_white_space(utf8::decode_at(text, cursor))) break;
        match_begin = prev;
      }
    }
    if (token.rstrip) {
      while (match_end < span.end) {
        size_t cursor = match_end;
        if (!is_white_space(utf8::decode_at(text, cursor))) break;
        match_end = cursor;
      }
      pos = match_end;
    }
    if (match_begin > segment_begin) segments.push_back({{segment_begin, match_begin}, -1});
    segments.push_back({{match_begin, match_end}, token.id});
    segment_begin = match_end;
  }
  if (segment_begin < span.end) segments.push_back({{segment_begin, span.end}, -1});
}

void AddedTokenMatcher::split(std::string_view text, std::vector<TextSegment>& segments) const {
  const TextSpan whole{0, text.size()};
  if (!has_raw_ && !has_normalized_) {
    if (!text.empty()) segments.push_back({whole, -1});
    return;
  }
  if (!has_normalized_) {
    split_pass(raw_trie_, text, whole, segments);
    return;
  }
  std::vector<TextSegment> first;
  if (has_raw_) {
    split_pass(raw_trie_, text, whole, first);
  } else if (!text.empty()) {
    first.push_back({whole, -1});
  }
  for (const TextSegment& segment : first) {
    if (segment.added_token_id >= 0) {
      segments.push_back(segment);
    } else {
      split_pass(normalized_trie_, text, segment.span, segments);
    }
  }
}

void AddedTokenMatcher::split_raw(std::string_view text,
                                  std::vector<TextSegment>& segments) const {
  if (has_raw_) {
    split_pass(raw_trie_, text, {0, text.size()}, segments);
  } else if (!text.empty()) {
    segments.push_back({{0, text.size()}, -1});
  }
}

void AddedTokenMatcher::split_normalized(std::string_view text,
                                         std::vector<TextSegment>& segments) const {
  if (has_normalized_) {
    split_pass(normalized_trie_, text, {0, text.size()}, segments);
  } else if (!text.empty()) {
    segments.push_back({{0, text.size()}, -1});
  }
}

}  // namespace vllm
