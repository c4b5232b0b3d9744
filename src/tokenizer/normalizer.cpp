#include "tokenizer/normalizer.h"

#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/uniset.h>

#include <stdexcept>

#include <fmt/format.h>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/utf8.h"

namespace vllm {

namespace chars {

bool is_whitespace(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)) != 0; }

bool is_nonspacing_mark(char32_t c) {
  return u_charType(static_cast<UChar32>(c)) == U_NON_SPACING_MARK;
}

bool is_punctuation(char32_t c) {
  if (c < 0x80) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) ||
           (c >= 0x7B && c <= 0x7E);
  }
  return u_ispunct(static_cast<UChar32>(c)) != 0;
}

bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_lowercase(std::string& out, char32_t c) {
  // U+0130 is the one character whose unconditional full lowercase mapping has two code
  // points; every other mapping that Rust applies is the simple one.
  if (c == 0x130) {
    out += "i\u0307";
    return;
  }
  utf8::append_code_point(out, static_cast<char32_t>(u_tolower(static_cast<UChar32>(c))));
}

}  // namespace chars

namespace {

// HF `tokenizers` 0.23.3 normalizes with Unicode 12.0 tables (its unicode-normalization
// crate): characters assigned later pass through unchanged, e.g. U+32FF and U+1FBF0 under
// NFKC. ICU (Unicode 15 on Debian 12) is therefore filtered to the characters of Unicode 12.0.
class UnicodeNormalizer final : public Normalizer {
 public:
  explicit UnicodeNormalizer(UnicodeForm form) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* base = nullptr;
    switch (form) {
      case UnicodeForm::kNfc: base = icu::Normalizer2::getNFCInstance(status); break;
      case UnicodeForm::kNfd: base = icu::Normalizer2::getNFDInstance(status); break;
      case UnicodeForm::kNfkc: base = icu::Normalizer2::getNFKCInstance(status); break;
      case UnicodeForm::kNfkd: base = icu::Normalizer2::getNFKDInstance(status); break;
    }
    if (U_SUCCESS(status)) {
      assigned_ = std::make_unique<icu::UnicodeSet>(icu::UnicodeString("[:age=12.0:]"), status);
    }
    if (U_FAILURE(status) || base == nullptr) {
      throw std::runtime_error(fmt::format("ICU normalizer unavailable: {}", u_errorName(status)));
    }
    assigned_->freeze();
    normalizer_ = std::make_unique<icu::FilteredNormalizer2>(*base, *assigned_);
  }
  void normalize(std::string& text) const override {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2& normalizer = *normalizer_;  // the overloads live in the base
    const icu::UnicodeString input = icu::UnicodeString::fromUTF8(text);
    if (normalizer.isNormalized(input, status) && U_SUCCESS(status)) return;
    status = U_ZERO_ERROR;
    const icu::UnicodeString output = normalizer.normalize(input, status);
    if (U_FAILURE(status)) {
      throw std::runtime_error(fmt::format("ICU normalization failed: {}", u_errorName(status)));
    }
    text.clear();
    output.toUTF8String(text);
  }

 private:
  std::unique_ptr<icu::UnicodeSet> assigned_;  // must outlive normalizer_
  std::unique_ptr<icu::FilteredNormalizer2> normalizer_;
};

class LowercaseNormalizer final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) chars::append_lowercase(out, utf8::decode_at(text, pos));
    text.swap(out);
  }
};

class StripNormalizer final : public Normalizer {
 public:
  StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
  void normalize(std::string& text) const override {
    size_t begin = 0;
    size_t end = text.size();
    if (left_) {
      while (begin < end) {
        size_t next = begin;
        if (!chars::is_whitespace(utf8::decode_at(text, next))) break;
        begin = next;
      }
    }
    if (right_) {
      while (end > begin) {
        size_t start = end - 1;
        while (start > begin && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
        size_t cursor = start;
        if (!chars::is_whitespace(utf8::decode_at(text, cursor))) break;
        end = start;
      }
    }
    text = text.substr(begin, end - begin);
  }

 private:
  bool left_;
  bool right_;
};

class StripAccentsNormalizer final : public Normalizer {
 public:
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
      const size_t start = pos;
      const char32_t c = utf8::decode_at(text, pos);
      if (!chars::is_nonspacing_mark(c)) out.append(text, start, pos - start);
    }
    text.swap(out);
  }
};

class ReplaceNormalizer final : public Normalizer {
 public:
  ReplaceNormalizer(std::string pattern, bool is_regex, std::string content)
      : pattern_(std::move(pattern)), content_(std::move(content)) {
    if (is_regex) regex_ = std::make_unique<RegexPreTokenizer>(pattern_);
  }
  void normalize(std::string& text) const override {
    std::vector<TextSpan> matches;
    if (regex_) {
      regex_->find_matches(text, {0, text.size()}, matches);
    } else if (!pattern_.empty()) {
      for (size_t pos = text.find(pattern_); pos != std::string::npos;
           pos = text.find(pattern_, pos + pattern_.size())) {
        matches.push_back({pos, pos + pattern_.size()});
      }
    }
    if (matches.empty()) return;
    std::string out;
    size_t last = 0;
    for (const TextSpan& match : matches) {
      out.append(text, last, match.begin - last);
      out += content_;
      last = match.end;
    }
    out.append(text, last, std::string::npos);
    text.swap(out);
  }

 private:
  std::string pattern_;
  std::string content_;
  std::unique_ptr<RegexPreTokenizer> regex_;
};

class PrependNormalizer final : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void normalize(std::string& text) const override {
    if (!text.empty()) text.insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class BertNormalizer final : public Normalizer {
 public:
  explicit BertNormalizer(BertNormalizerOptions options)
      : options_(options), nfd_(UnicodeForm::kNfd) {}
  void normalize(std::string& text) const override {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
      const size_t start = pos;
      const char32_t c = utf8::decode_at(text, pos);
      if (options_.clean_text) {
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (c == '\t' || c == '\n' || c == '\r' || chars::is_whitespace(c)) {
          out += ' ';
          continue;
        }
      }
      if (options_.handle_chinese_chars && chars::is_cjk_ideograph(c)) {
        out += ' ';
        out.append(text, start, pos - start);
        out += ' ';
        continue;
      }
      out.append(text, start, pos - start);
    }
    if (options_.strip_accents) {
      nfd_.normalize(out);
      StripAccentsNormalizer().normalize(out);
    }
    if (options_.lowercase) LowercaseNormalizer().normalize(out);
    text.swap(out);
  }

 private:
  // HF's is_control: categories Cc, Cf, Co and Cs except tab, newline and return.
  // Unassigned code points (Cn) are kept: HF keeps U+10FFFF and the letters of Unicode 16
  // (checked with tokenizers 0.23.3).
  static bool is_control(char32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return false;
    switch (u_charType(static_cast<UChar32>(c))) {
      case U_CONTROL_CHAR:
      case U_FORMAT_CHAR:
      case U_PRIVATE_USE_CHAR:
      case U_SURROGATE:
        return true;
      default:
        return false;
    }
  }

  BertNormalizerOptions options_;
  UnicodeNormalizer nfd_;
};

class SequenceNormalizer final : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void normalize(std::string& text) const override {
    for (const auto& step : steps_) step->normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

}  // namespace

std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form) {
  return std::make_unique<UnicodeNormalizer>(form);
}
std::unique_ptr<Normalizer> make_lowercase_normalizer() {
  return std::make_unique<LowercaseNormalizer>();
}
std::unique_ptr<Normalizer> make_strip_normalizer(bool left, bool right) {
  return std::make_unique<StripNormalizer>(left, right);
}
std::unique_ptr<Normalizer> make_strip_accents_normalizer() {
  return std::make_unique<StripAccentsNormalizer>();
}
std::unique_ptr<Normalizer> make_replace_normalizer(std::string pattern, bool is_regex,
                                                    std::string content) {
  return std::make_unique<ReplaceNormalizer>(std::move(pattern), is_regex, std::move(content));
}
std::unique_ptr<Normalizer> make_prepend_normalizer(std::string prefix) {
  return std::make_unique<PrependNormalizer>(std::move(prefix));
}
std::unique_ptr<Normalizer> make_bert_normalizer(BertNormalizerOptions options) {
  return std::make_unique<BertNormalizer>(options);
}
std::unique_ptr<Normalizer> make_sequence_normalizer(
    std::vector<std::unique_ptr<Normalizer>> steps) {
  return std::make_unique<SequenceNormalizer>(std::move(steps));
}

}  // namespace vllm
