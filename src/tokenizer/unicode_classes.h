// Character classes that HF `tokenizers` 0.23 uses, written for PCRE2 patterns.
//
// HF's pre-tokenizer regexes run on Oniguruma with Unicode 16 tables and its Digits
// pre-tokenizer uses Rust's char::is_numeric (Unicode 17), while Debian's PCRE2 10.42 has
// Unicode 14 tables. The fragments below add the letters and numbers assigned since, so
// that PCRE2 classifies every code point as HF does; hf_char_classes.json in the test
// data (written by tools/make_tokenizer_goldens.py) holds HF's classes for every code
// point and the unit test compares against it.
#pragma once

#include <string>
#include <string_view>

namespace vllm::unicode_classes {

// Class bodies (what goes between '[' and ']') in PCRE2 syntax.
extern const std::string_view kLetter;       // Oniguruma \p{L}
extern const std::string_view kNumber;       // Oniguruma \p{N}
extern const std::string_view kWhiteSpace;   // Oniguruma \s: the White_Space property
extern const std::string_view kNumeric;      // Rust char::is_numeric
extern const std::string_view kWordChar;     // Rust regex \w, for single_word added tokens

// Rewrites an HF (Oniguruma) regex so that PCRE2 with UTF and UCP matches what HF matches:
// \p{L}, \p{N}, \s and \S become the classes above, inside or outside brackets. Throws
// std::invalid_argument for a construct it cannot rewrite (\S inside brackets).
std::string translate_hf_regex(std::string_view pattern);

}  // namespace vllm::unicode_classes
