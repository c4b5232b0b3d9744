#include "tokenizer/token_model.h"

#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "tokenizer/utf8.h"
#include "tokenizer/vocabulary.h"

namespace vllm {

std::string byte_token_name(uint8_t byte) { return fmt::format("<0x{:02X}>", byte); }

std::optional<uint8_t> parse_byte_token(std::string_view token) {
  if (token.size() != 6 || token.substr(0, 3) != "<0x" || token[5] != '>') return std::nullopt;
  int value = 0;
  for (size_t i = 3; i < 5; ++i) {
    const char c = token[i];
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = value * 16 + digit;
  }
  return static_cast<uint8_t>(value);
}

namespace {

class BpePipelineModel final : public TokenModel {
 public:
  BpePipelineModel(std::vector<std::string> tokens,
                   const std::vector<std::pair<std::string, std::string>>& merges,
                   BpeOptions options)
      : merger_(std::move(tokens), merges), options_(std::move(options)) {
    if (options_.unk_token) unk_id_ = vocab().find(*options_.unk_token);
    if (options_.byte_fallback) {
      for (int byte = 0; byte < 256; ++byte) {
        byte_ids_[byte] = vocab().find(byte_token_name(static_cast<uint8_t>(byte))).value_or(-1);
      }
    }
  }

  void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override {
    if (options_.ignore_merges) {
      if (auto id = vocab().find(piece)) {
        ids.push_back(*id);
        return;
      }
    }
    std::vector<int32_t> symbols;
    bool last_was_unk = false;
    for (size_t pos = 0; pos < piece.size();) {
      const size_t start = pos;
      utf8::decode_at(piece, pos);
      const std::string_view character = piece.substr(start, pos - start);
      if (auto id = vocab().find(character)) {
        symbols.push_back(*id);
        last_was_unk = false;
        continue;
      }
      if (options_.byte_fallback) {
        bool all_found = true;
        for (char c : character) all_found = all_found && byte_ids_[static_cast<uint8_t>(c)] >= 0;
        if (all_found) {
          for (char c : character) symbols.push_back(byte_ids_[static_cast<uint8_t>(c)]);
          last_was_unk = false;
          continue;
        }
      }
      // HF drops the character when the model has no unk token.
      if (!unk_id_) continue;
      if (!(options_.fuse_unk && last_was_unk)) symbols.push_back(*unk_id_);
      last_was_unk = true;
    }
    merger_.merge(symbols, ids);
  }
  const std::vector<std::string>& tokens() const override { return vocab().tokens(); }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return vocab().find(token);
  }
  bool byte_fallback() const override { return options_.byte_fallback; }

 private:
  const Vocabulary& vocab() const { return merger_.vocabulary(); }

  BpeModel merger_;
  BpeOptions options_;
  std::optional<int32_t> unk_id_;
  int32_t byte_ids_[256] = {};
};

class WordPieceModel final : public TokenModel {
 public:
  WordPieceModel(std::vector<std::string> tokens, std::string unk_token, std::string prefix,
                 size_t max_chars)
      : vocab_(std::move(tokens)), prefix_(std::move(prefix)), max_chars_(max_chars) {
    const std::optional<int32_t> unk = vocab_.find(unk_token);
    if (!unk) {
      throw std::invalid_argument(fmt::format("WordPiece unk_token '{}' is not in the vocabulary",
                                              unk_token));
    }
    unk_id_ = *unk;
  }

  void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override {
    size_t num_chars = 0;
    for (size_t pos = 0; pos < piece.size(); utf8::decode_at(piece, pos)) ++num_chars;
    if (num_chars > max_chars_) {
      ids.push_back(unk_id_);
      return;
    }
    const size_t first = ids.size();
    std::string candidate;
    size_t start = 0;
    while (start < piece.size()) {
      size_t end = piece.size();
      std::optional<int32_t> found;
      while (start < end) {
        candidate.clear();
        if (start > 0) candidate = prefix_;
        candidate.append(piece.substr(start, end - start));
        found = vocab_.find(candidate);
        if (found) break;
        // Step back one character.
        do {
          --end;
        } while (end > start && (static_cast<uint8_t>(piece[end]) & 0xC0) == 0x80);
      }
      if (!found) {
        ids.resize(first);
        ids.push_back(unk_id_);
        return;
      }
      ids.push_back(*found);
      start = end;
    }
  }
  const std::vector<std::string>& tokens() const override { return vocab_.tokens(); }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }

 private:
  Vocabulary vocab_;
  std::string prefix_;
  size_t max_chars_;
  int32_t unk_id_ = 0;
};

class UnigramModel final : public TokenModel {
 public:
  UnigramModel(std::vector<std::pair<std::string, double>> vocab, std::optional<int32_t> unk_id,
               bool byte_fallback)
      : vocab_(strings_of(vocab)), unk_id_(unk_id), byte_fallback_(byte_fallback) {
    scores_.reserve(vocab.size());
    min_score_ = std::numeric_limits<double>::infinity();
    for (const auto& [token, score] : vocab) {
      scores_.push_back(score);
      min_score_ = std::min(min_score_, score);
      if (!token.empty()) trie_insert(token);
    }
    // HF loads such a model but fails to encode any character outside the vocabulary;
    // rejecting it at load keeps encode() free of errors.
    if (!unk_id_) {
      throw std::invalid_argument("Unigram model has no unk_id; set it to the id of the unknown "
                                  "token");
    }
    if (*unk_id_ < 0 || *unk_id_ >= static_cast<int32_t>(vocab.size())) {
      throw std::invalid_argument(fmt::format("Unigram unk_id {} is outside the vocabulary of {} "
                                              "tokens", *unk_id_, vocab.size()));
    }
  }

  void tokenize(std::string_view piece, std::vector<int32_t>& ids) const override {
    if (piece.empty()) return;
    // HF's encode_optimized: best[end] is the best path ending at byte `end`.
    struct Node {
      int32_t id = -1;
      double score = 0.0;
      int64_t starts_at = -1;
    };
    const size_t size = piece.size();
    const double unk_score = min_score_ - 10.0;
    std::vector<Node> best(size + 1);
    size_t starts_at = 0;
    while (starts_at < size) {
      const double base = best[starts_at].score;
      size_t next = starts_at;
      utf8::decode_at(piece, next);
      const size_t char_length = next - starts_at;
      bool has_single_node = false;
      // Vocabulary entries that start here, shortest first.
      int32_t node = 0;
      for (size_t pos = starts_at; pos < size; ++pos) {
        node = trie_child(node, static_cast<uint8_t>(piece[pos]));
        if (node < 0) break;
        const int32_t id = trie_[node].token_id;
        if (id < 0) continue;
        const size_t key_pos = pos + 1;
        Node& target = best[key_pos];
        const double candidate = scores_[id] + base;
        if (target.starts_at < 0 || candidate > target.score) {
          target = {id, candidate, static_cast<int64_t>(starts_at)};
        }
        if (key_pos - starts_at == char_length) has_single_node = true;
      }
      if (!has_single_node) {
        Node& target = best[starts_at + char_length];
        const double candidate = unk_score + base;
        if (target.starts_at < 0 || candidate > target.score) {
          target = {*unk_id_, candidate, static_cast<int64_t>(starts_at)};
        }
      }
      starts_at = next;
    }
    // Walk back; adjacent unk pieces are fused into one string, as HF's fuse_unk does.
    std::vector<std::pair<size_t, size_t>> spans;  // byte ranges, last first
    size_t ends_at = size;
    bool pending_unk = false;
    while (ends_at > 0) {
      const Node& n = best[ends_at];
      const size_t begin = static_cast<size_t>(n.starts_at);
      const bool is_unk = unk_id_ && n.id == *unk_id_;
      if (is_unk && pending_unk) {
        spans.back().first = begin;
      } else {
        spans.push_back({begin, ends_at});
      }
      pending_unk = is_unk;
      ends_at = begin;
    }
    for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
      const std::string_view text = piece.substr(it->first, it->second - it->first);
      if (auto id = vocab_.find(text)) {
        ids.push_back(*id);
        continue;
      }
      if (byte_fallback_) {
        std::vector<int32_t> bytes;
        for (char c : text) {
          auto id = vocab_.find(byte_token_name(static_cast<uint8_t>(c)));
          if (!id) break;
          bytes.push_back(*id);
        }
        if (bytes.size() == text.size()) {
          ids.insert(ids.end(), bytes.begin(), bytes.end());
          continue;
        }
      }
      ids.push_back(*unk_id_);
    }
  }
  const std::vector<std::string>& tokens() const override { return vocab_.tokens(); }
  std::optional<int32_t> token_to_id(std::string_view token) const override {
    return vocab_.find(token);
  }
  bool byte_fallback() const override { return byte_fallback_; }

 private:
  static std::vector<std::string> strings_of(const std::vector<std::pair<std::string, double>>& v) {
    std::vector<std::string> out;
    out.reserve(v.size());
    for (const auto& entry : v) out.push_back(entry.first);
    return out;
  }
  struct TrieNode {
    std::vector<std::pair<uint8_t, int32_t>> children;
    int32_t token_id = -1;
  };
  int32_t trie_child(int32_t node, uint8_t byte) const {
    for (const auto& [b, child] : trie_[node].children) {
      if (b == byte) return child;
    }
    return -1;
  }
  void trie_insert(const std::string& token) {
    int32_t node = 0;
    for (char c : token) {
      int32_t child = trie_child(node, static_cast<uint8_t>(c));
      if (child < 0) {
        child = static_cast<int32_t>(trie_.size());
        trie_[node].children.push_back({static_cast<uint8_t>(c), child});
        trie_.emplace_back();
      }
      node = child;
    }
    // The id the vocabulary lookup gives (a later duplicate wins).
    trie_[node].token_id = *vocab_.find(token);
  }

  Vocabulary vocab_;
  std::vector<double> scores_;
  double min_score_ = 0.0;
  std::optional<int32_t> unk_id_;
  bool byte_fallback_;
  std::vector<TrieNode> trie_{TrieNode{}};
};

}  // namespace

std::unique_ptr<TokenModel> make_bpe_model(
    std::vector<std::string> tokens, const std::vector<std::pair<std::string, std::string>>& merges,
    BpeOptions options) {
  return std::make_unique<BpePipelineModel>(std::move(tokens), merges, std::move(options));
}

std::unique_ptr<TokenModel> make_wordpiece_model(std::vector<std::string> tokens,
                                                 std::string unk_token,
                                                 std::string continuing_subword_prefix,
                                                 size_t max_input_chars_per_word) {
  return std::make_unique<WordPieceModel>(std::move(tokens), std::move(unk_token),
                                          std::move(continuing_subword_prefix),
                                          max_input_chars_per_word);
}

std::unique_ptr<TokenModel> make_unigram_model(std::vector<std::pair<std::string, double>> vocab,
                                               std::optional<int32_t> unk_id,
                                               bool byte_fallback) {
  return std::make_unique<UnigramModel>(std::move(vocab), unk_id, byte_fallback);
}

}  // namespace vllm
