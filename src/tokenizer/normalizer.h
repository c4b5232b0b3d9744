// Normalizers of HF `tokenizers`: rewrite the text of one segment (between added tokens)
// before pre-tokenization. Each class mirrors the HF normalizer of the same name.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vllm {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites valid UTF-8 `text` in place.
  virtual void normalize(std::string& text) const = 0;
};

// Unicode normalization forms, computed with ICU.
enum class UnicodeForm { kNfc, kNfd, kNfkc, kNfkd };
std::unique_ptr<Normalizer> make_unicode_normalizer(UnicodeForm form);

// Lowercase: each character mapped by its full lowercase mapping (Rust char::to_lowercase,
// without the final-sigma context rule).
std::unique_ptr<Normalizer> make_lowercase_normalizer();

// Strip: removes White_Space characters from the left and/or right end.
std::unique_ptr<Normalizer> make_strip_normalizer(bool left, bool right);

// StripAccents: removes nonspacing marks (general category Mn). It does not decompose by
// itself, so tokenizer.json files put NFD before it.
std::unique_ptr<Normalizer> make_strip_accents_normalizer();

// Replace: every occurrence of a literal string, or of an HF regex, becomes `content`.
std::unique_ptr<Normalizer> make_replace_normalizer(std::string pattern, bool is_regex,
                                                    std::string content);

// Prepend: puts `prefix` before non-empty text.
std::unique_ptr<Normalizer> make_prepend_normalizer(std::string prefix);

// BertNormalizer: removes control characters and maps whitespace to ' ' (clean_text), puts
// spaces around CJK ideographs, strips accents (NFD, then drop Mn) and lowercases.
struct BertNormalizerOptions {
  bool clean_text = true;
  bool handle_chinese_chars = true;
  bool strip_accents = true;  // HF's null means "as lowercase"; the loader resolves it
  bool lowercase = true;
};
std::unique_ptr<Normalizer> make_bert_normalizer(BertNormalizerOptions options);

// Sequence: each normalizer in order.
std::unique_ptr<Normalizer> make_sequence_normalizer(
    std::vector<std::unique_ptr<Normalizer>> steps);

// Character predicates as HF `tokenizers` (Rust) defines them, for the normalizers and
// the pre-tokenizers.
namespace chars {
bool is_whitespace(char32_t c);      // Rust char::is_whitespace (White_Space property)
bool is_nonspacing_mark(char32_t c); // general category Mn
bool is_punctuation(char32_t c);     // ASCII punctuation or any general category P*
bool is_cjk_ideograph(char32_t c);   // the ranges BertNormalizer pads with spaces
void append_lowercase(std::string& out, char32_t c);
}  // namespace chars

}  // namespace vllm
