#include "tokenizer/unicode_classes.h"

#include <stdexcept>

namespace vllm::unicode_classes {

// Ranges that HF (tokenizers 0.23.3) counts as letters and PCRE2 10.42 does not: code
// points assigned in Unicode 15.0 to 16.0.
const std::string_view kLetter =
    "\\p{L}"
    "\\x{1C89}-\\x{1C8A}\\x{A7CB}-\\x{A7CD}\\x{A7DA}-\\x{A7DC}\\x{105C0}-\\x{105F3}"
    "\\x{10D4A}-\\x{10D65}\\x{10D6F}-\\x{10D85}\\x{10EC2}-\\x{10EC4}"
    "\\x{1123F}-\\x{11240}\\x{11380}-\\x{11389}\\x{1138B}\\x{1138E}\\x{11390}-\\x{113B5}"
    "\\x{113B7}\\x{113D1}\\x{113D3}\\x{11BC0}-\\x{11BE0}\\x{11F02}\\x{11F04}-\\x{11F10}"
    "\\x{11F12}-\\x{11F33}\\x{1342F}\\x{13441}-\\x{13446}\\x{13460}-\\x{143FA}"
    "\\x{16100}-\\x{1611D}\\x{16D40}-\\x{16D6C}\\x{18CFF}\\x{1B132}\\x{1B155}"
    "\\x{1DF25}-\\x{1DF2A}\\x{1E030}-\\x{1E06D}\\x{1E4D0}-\\x{1E4EB}"
    "\\x{1E5D0}-\\x{1E5ED}\\x{1E5F0}\\x{2B739}\\x{2EBF0}-\\x{2EE5D}\\x{31350}-\\x{323AF}";

// Numbers assigned in Unicode 15.0 to 16.0.
const std::string_view kNumber =
    "\\p{N}"
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}"
    "\\x{11F50}-\\x{11F59}\\x{16130}-\\x{16139}\\x{16D70}-\\x{16D79}"
    "\\x{1CCF0}-\\x{1CCF9}\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}"
    "\\x{1E5F1}-\\x{1E5FA}";

// Numbers assigned in Unicode 15.0 to 17.0 (Rust's standard library is newer than
// Oniguruma's tables, hence the two extra ranges).
const std::string_view kNumeric =
    "\\p{N}"
    "\\x{10D40}-\\x{10D49}\\x{116D0}-\\x{116E3}\\x{11BF0}-\\x{11BF9}"
    "\\x{11DE0}-\\x{11DE9}\\x{11F50}-\\x{11F59}\\x{16130}-\\x{16139}"
    "\\x{16D70}-\\x{16D79}\\x{16FF4}-\\x{16FF6}\\x{1CCF0}-\\x{1CCF9}"
    "\\x{1D2C0}-\\x{1D2D3}\\x{1E4F0}-\\x{1E4F9}\\x{1E5F1}-\\x{1E5FA}";

// The White_Space property, listed because PCRE2's \s also matches U+180E.
const std::string_view kWhiteSpace =
    "\\x{9}-\\x{D}\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}"
    "\\x{202F}\\x{205F}\\x{3000}";

// Rust regex \w: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
const std::string_view kWordChar = "\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}";

std::string translate_hf_regex(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() * 4);
  bool in_class = false;
  auto append_class = [&](std::string_view body, bool negated) {
    if (in_class) {
      if (negated) {
        throw std::invalid_argument("a negated class escape inside brackets is not supported");
      }
      out += body;
    } else {
      out += negated ? "[^" : "[";
      out += body;
      out += ']';
    }
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      const std::string_view rest = pattern.substr(i);
      if (rest.starts_with("\\p{L}")) {
        append_class(kLetter, false);
        i += 4;
      } else if (rest.starts_with("\\p{N}")) {
        append_class(kNumber, false);
        i += 4;
      } else if (rest.starts_with("\\s")) {
        append_class(kWhiteSpace, false);
        i += 1;
      } else if (rest.starts_with("\\S")) {
        append_class(kWhiteSpace, true);
        i += 1;
      } else {
        out += rest.substr(0, 2);
        i += 1;
      }
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') out += pattern[++i];
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') out += pattern[++i];
      continue;
    }
    if (c == ']' && in_class) in_class = false;
    out += c;
  }
  return out;
}

}  // namespace vllm::unicode_classes
