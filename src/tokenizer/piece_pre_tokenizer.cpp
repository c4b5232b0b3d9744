#include "tokenizer/piece_pre_tokenizer.h"

#include <functional>
#include <stdexcept>

#include <fmt/format.h>

#include "tokenizer/byte_level.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/unicode_classes.h"
#include "tokenizer/utf8.h"

namespace vllm {

SplitBehavior parse_split_behavior(std::string_view name) {
  if (name == "Removed" || name == "removed") return SplitBehavior::kRemoved;
  if (name == "Isolated" || name == "isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious" || name == "merged_with_previous") {
    return SplitBehavior::kMergedWithPrevious;
  }
  if (name == "MergedWithNext" || name == "merged_with_next") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous" || name == "contiguous") return SplitBehavior::kContiguous;
  throw std::invalid_argument(fmt::format(
      "split behavior '{}' is unknown (known: Removed, Isolated, MergedWithPrevious, "
      "MergedWithNext, Contiguous)", name));
}

namespace {

struct Marked {
  TextSpan span;
  bool is_match;
};

// HF NormalizedString::split: turns delimiter matches into pieces by `behavior`, dropping
// empty pieces. `matches` are sorted, non-overlapping, non-empty.
void split_piece(const Piece& piece, const std::vector<TextSpan>& matches, SplitBehavior behavior,
                 bool invert, std::vector<Piece>& out) {
  std::vector<Marked> marked;
  size_t last = 0;
  for (const TextSpan& match : matches) {
    if (match.begin > last) marked.push_back({{last, match.begin}, invert});
    marked.push_back({match, !invert});
    last = match.end;
  }
  if (last < piece.text.size()) marked.push_back({{last, piece.text.size()}, invert});

  std::vector<TextSpan> spans;
  switch (behavior) {
    case SplitBehavior::kRemoved:
      for (const Marked& m : marked) {
        if (!m.is_match) spans.push_back(m.span);
      }
      break;
    case SplitBehavior::kIsolated:
      for (const Marked& m : marked) spans.push_back(m.span);
      break;
    case SplitBehavior::kMergedWithPrevious: {
      bool previous_match = false;
      for (const Marked& m : marked) {
        if (m.is_match && !previous_match && !spans.empty()) {
          spans.back().end = m.span.end;
        } else {
          spans.push_back(m.span);
        }
        previous_match = m.is_match;
      }
      break;
    }
    case SplitBehavior::kMergedWithNext: {
      bool previous_match = false;
      for (auto it = marked.rbegin(); it != marked.rend(); ++it) {
        if (it->is_match && !previous_match && !spans.empty()) {
          spans.back().begin = it->span.begin;
        } else {
          spans.push_back(it->span);
        }
        previous_match = it->is_match;
      }
      std::reverse(spans.begin(), spans.end());
      break;
    }
    case SplitBehavior::kContiguous: {
      bool previous_match = false;
      for (const Marked& m : marked) {
        if (m.is_match == previous_match && !spans.empty()) {
          spans.back().end = m.span.end;
        } else {
          spans.push_back(m.span);
        }
        previous_match = m.is_match;
      }
      break;
    }
  }
  for (const TextSpan& span : spans) {
    if (span.end == span.begin) continue;
    out.push_back({piece.text.substr(span.begin, span.end - span.begin),
                   piece.at_start && span.begin == 0});
  }
}

// Splits every piece at the delimiters `find` reports.
class MatcherPreTokenizer : public PiecePreTokenizer {
 public:
  MatcherPreTokenizer(SplitBehavior behavior, bool invert) : behavior_(behavior), invert_(invert) {}
  void split(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    std::vector<TextSpan> matches;
    for (const Piece& piece : pieces) {
      matches.clear();
      find(piece.text, matches);
      split_piece(piece, matches, behavior_, invert_, out);
    }
    pieces.swap(out);
  }

 protected:
  virtual void find(const std::string& text, std::vector<TextSpan>& matches) const = 0;

 private:
  SplitBehavior behavior_;
  bool invert_;
};

class RegexSplit final : public MatcherPreTokenizer {
 public:
  RegexSplit(std::string_view hf_pattern, SplitBehavior behavior, bool invert)
      : MatcherPreTokenizer(behavior, invert), regex_(hf_pattern) {}

 protected:
  void find(const std::string& text, std::vector<TextSpan>& matches) const override {
    regex_.find_matches(text, {0, text.size()}, matches);
  }

 private:
  RegexPreTokenizer regex_;
};

class StringSplit final : public MatcherPreTokenizer {
 public:
  StringSplit(std::string delimiter, SplitBehavior behavior, bool invert)
      : MatcherPreTokenizer(behavior, invert), delimiter_(std::move(delimiter)) {}

 protected:
  void find(const std::string& text, std::vector<TextSpan>& matches) const override {
    if (delimiter_.empty()) return;
    for (size_t pos = text.find(delimiter_); pos != std::string::npos;
         pos = text.find(delimiter_, pos + delimiter_.size())) {
      matches.push_back({pos, pos + delimiter_.size()});
    }
  }

 private:
  std::string delimiter_;
};

// Each character that satisfies the predicate is one delimiter.
class CharSplit final : public MatcherPreTokenizer {
 public:
  CharSplit(std::function<bool(char32_t)> predicate, SplitBehavior behavior)
      : MatcherPreTokenizer(behavior, false), predicate_(std::move(predicate)) {}

 protected:
  void find(const std::string& text, std::vector<TextSpan>& matches) const override {
    for (size_t pos = 0; pos < text.size();) {
      const size_t start = pos;
      if (predicate_(utf8::decode_at(text, pos))) matches.push_back({start, pos});
    }
  }

 private:
  std::function<bool(char32_t)> predicate_;
};

class ByteLevelPre final : public PiecePreTokenizer {
 public:
  ByteLevelPre(bool add_prefix_space, bool use_regex) : add_prefix_space_(add_prefix_space) {
    if (use_regex) {
      regex_ = std::make_unique<RegexSplit>(kGpt2SplitPattern, SplitBehavior::kIsolated, false);
    }
  }
  void split(std::vector<Piece>& pieces) const override {
    if (add_prefix_space_) {
      for (Piece& piece : pieces) {
        if (piece.text.empty() || piece.text[0] != ' ') piece.text.insert(0, " ");
      }
    }
    if (regex_) regex_->split(pieces);
    for (Piece& piece : pieces) piece.text = byte_level::encode(piece.text);
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<RegexSplit> regex_;
};

class MetaspacePre final : public PiecePreTokenizer {
 public:
  MetaspacePre(std::string replacement, std::string_view scheme, bool split)
      : replacement_(std::move(replacement)), split_(split) {
    if (scheme == "always") {
      scheme_ = Scheme::kAlways;
    } else if (scheme == "first") {
      scheme_ = Scheme::kFirst;
    } else if (scheme == "never") {
      scheme_ = Scheme::kNever;
    } else {
      throw std::invalid_argument(fmt::format(
          "Metaspace prepend_scheme '{}' is unknown (known: always, first, never)", scheme));
    }
  }
  void split(std::vector<Piece>& pieces) const override {
    std::vector<Piece> out;
    std::vector<TextSpan> matches;
    for (Piece& piece : pieces) {
      std::string replaced;
      for (char c : piece.text) {
        if (c == ' ') {
          replaced += replacement_;
        } else {
          replaced += c;
        }
      }
      const bool starts_with = replaced.compare(0, replacement_.size(), replacement_) == 0;
      if (!starts_with && (scheme_ == Scheme::kAlways || (scheme_ == Scheme::kFirst && piece.at_start))) {
        replaced.insert(0, replacement_);
      }
      Piece rewritten{std::move(replaced), piece.at_start};
      if (!split_) {
        out.push_back(std::move(rewritten));
        continue;
      }
      matches.clear();
      for (size_t pos = rewritten.text.find(replacement_); pos != std::string::npos;
           pos = rewritten.text.find(replacement_, pos + replacement_.size())) {
        matches.push_back({pos, pos + replacement_.size()});
      }
      split_piece(rewritten, matches, SplitBehavior::kMergedWithNext, false, out);
    }
    pieces.swap(out);
  }

 private:
  enum class Scheme { kAlways, kFirst, kNever };
  std::string replacement_;
  Scheme scheme_ = Scheme::kAlways;
  bool split_;
};

class SequencePre final : public PiecePreTokenizer {
 public:
  explicit SequencePre(std::vector<std::unique_ptr<PiecePreTokenizer>> steps)
      : steps_(std::move(steps)) {}
  void split(std::vector<Piece>& pieces) const override {
    for (const auto& step : steps_) step->split(pieces);
  }

 private:
  std::vector<std::unique_ptr<PiecePreTokenizer>> steps_;
};

}  // namespace

std::unique_ptr<PiecePreTokenizer> make_split_pre_tokenizer(std::string pattern, bool is_regex,
                                                            SplitBehavior behavior, bool invert) {
  if (is_regex) return std::make_unique<RegexSplit>(pattern, behavior, invert);
  return std::make_unique<StringSplit>(std::move(pattern), behavior, invert);
}

std::unique_ptr<PiecePreTokenizer> make_byte_level_pre_tokenizer(bool add_prefix_space,
                                                                 bool use_regex) {
  return std::make_unique<ByteLevelPre>(add_prefix_space, use_regex);
}

std::unique_ptr<PiecePreTokenizer> make_metaspace_pre_tokenizer(std::string replacement,
                                                                std::string_view prepend_scheme,
                                                                bool split) {
  return std::make_unique<MetaspacePre>(std::move(replacement), prepend_scheme, split);
}

std::unique_ptr<PiecePreTokenizer> make_whitespace_pre_tokenizer() {
  // HF: the matches of \w+|[^\w\s]+ are kept, the rest removed.
  const std::string pattern = fmt::format("[{0}]+|[^{0}\\s]+", unicode_classes::kWordChar);
  return std::make_unique<RegexSplit>(pattern, SplitBehavior::kRemoved, true);
}

std::unique_ptr<PiecePreTokenizer> make_whitespace_split_pre_tokenizer() {
  return std::make_unique<CharSplit>(chars::is_whitespace, SplitBehavior::kRemoved);
}

std::unique_ptr<PiecePreTokenizer> make_bert_pre_tokenizer() {
  std::vector<std::unique_ptr<PiecePreTokenizer>> steps;
  steps.push_back(make_whitespace_split_pre_tokenizer());
  steps.push_back(std::make_unique<CharSplit>(chars::is_punctuation, SplitBehavior::kIsolated));
  return std::make_unique<SequencePre>(std::move(steps));
}

std::unique_ptr<PiecePreTokenizer> make_punctuation_pre_tokenizer(SplitBehavior behavior) {
  return std::make_unique<CharSplit>(chars::is_punctuation, behavior);
}

std::unique_ptr<PiecePreTokenizer> make_digits_pre_tokenizer(bool individual_digits) {
  const std::string pattern =
      fmt::format("[{}]{}", unicode_classes::kNumeric, individual_digits ? "" : "+");
  return std::make_unique<RegexSplit>(pattern, SplitBehavior::kIsolated, false);
}

std::unique_ptr<PiecePreTokenizer> make_sequence_pre_tokenizer(
    std::vector<std::unique_ptr<PiecePreTokenizer>> steps) {
  return std::make_unique<SequencePre>(std::move(steps));
}

}  // namespace vllm
