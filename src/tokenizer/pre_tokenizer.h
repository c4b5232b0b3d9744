// Pre-tokenizers: split text into the pieces that the model (BPE) encodes one at a time.
// They mirror HF `tokenizers` pre-tokenizers of the same names. Pieces are byte ranges of
// the input, so a pre-tokenizer never changes the text itself.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace vllm {

// Half-open byte range [begin, end) of a text.
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
};

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Appends the pieces of text[span] to `pieces`, in order, covering the span. Text is
  // valid UTF-8 and span boundaries fall between characters.
  virtual void split(std::string_view text, TextSpan span,
                     std::vector<TextSpan>& pieces) const = 0;
};

// HF Split/ByteLevel regex splitting with the "Isolated" behaviour: every match and every
// gap between matches becomes a piece. The pattern is in HF's (Oniguruma) syntax; it is
// compiled with PCRE2 in UTF and UCP mode, JIT-compiled when the platform allows.
class RegexPreTokenizer final : public PreTokenizer {
 public:
  // Throws std::invalid_argument naming the pattern when it does not compile.
  explicit RegexPreTokenizer(std::string_view hf_pattern);
  ~RegexPreTokenizer() override;
  RegexPreTokenizer(const RegexPreTokenizer&) = delete;
  RegexPreTokenizer& operator=(const RegexPreTokenizer&) = delete;

  void split(std::string_view text, TextSpan span,
             std::vector<TextSpan>& pieces) const override;
  // Appends the non-empty matches in text[span], leftmost first, without overlap. The span
  // is the whole subject, so lookarounds see its ends as the text's ends.
  void find_matches(std::string_view text, TextSpan span,
                    std::vector<TextSpan>& matches) const;

 private:
  struct Compiled;
  std::unique_ptr<Compiled> compiled_;
};

// HF Digits: numeric characters (Rust char::is_numeric) are isolated, each one alone
// (individual_digits) or as runs.
class DigitsPreTokenizer final : public PreTokenizer {
 public:
  explicit DigitsPreTokenizer(bool individual_digits);
  void split(std::string_view text, TextSpan span,
             std::vector<TextSpan>& pieces) const override;

 private:
  RegexPreTokenizer numeric_;
};

// HF Sequence: each pre-tokenizer splits every piece that the previous one produced.
class SequencePreTokenizer final : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps);
  void split(std::string_view text, TextSpan span,
             std::vector<TextSpan>& pieces) const override;

 private:
  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

// The GPT-2 pattern that HF's ByteLevel pre-tokenizer applies when use_regex is true.
extern const std::string_view kGpt2SplitPattern;

// Pre-tokenizer of llama.cpp's `tokenizer.ggml.pre` names, or nullptr for an unknown name.
// "smollm" is HF's Sequence[Digits(individual_digits), ByteLevel]; "gpt-2", "gpt2" and
// "default" are ByteLevel alone.
std::unique_ptr<PreTokenizer> make_gguf_pre_tokenizer(std::string_view pre_name);
// Names accepted by make_gguf_pre_tokenizer, for error messages.
extern const std::string_view kSupportedGgufPreNames;

}  // namespace vllm
