#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <stdexcept>

#include <fmt/format.h>

#include "tokenizer/unicode_classes.h"
#include "tokenizer/utf8.h"

namespace vllm {

const std::string_view kGpt2SplitPattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const std::string_view kSupportedGgufPreNames =
    "smollm, gpt-2, gpt2, default, llama3, llama-v3, llama-bpe, falcon3, dbrx, smaug-bpe, "
    "qwen2, deepseek-r1-qwen";

namespace {

// The split patterns transformers gives these GGUF pre-tokenizer names (followed by
// ByteLevel without its own regex).
constexpr std::string_view kLlama3SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2SplitPattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})"
    R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

}  // namespace

namespace {

// Per-thread match state: PCRE2 match data and JIT stack may not be shared between
// threads, and allocating them per match would dominate the cost of short pieces.
struct ThreadMatchState {
  pcre2_match_data* match_data = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  pcre2_match_context* context = nullptr;

  ThreadMatchState() {
    match_data = pcre2_match_data_create(1, nullptr);
    // Long whitespace runs backtrack through "\s+(?!\S)"; 32 KiB start, 64 MiB max.
    jit_stack = pcre2_jit_stack_create(32 * 1024, 64 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (jit_stack != nullptr) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~ThreadMatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
    pcre2_match_data_free(match_data);
  }
};

ThreadMatchState& thread_match_state() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

struct RegexPreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::string pattern;
  ~Compiled() { pcre2_code_free(code); }
};

RegexPreTokenizer::RegexPreTokenizer(std::string_view hf_pattern)
    : compiled_(std::make_unique<Compiled>()) {
  compiled_->pattern = unicode_classes::translate_hf_regex(hf_pattern);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  compiled_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(compiled_->pattern.data()),
                                  compiled_->pattern.size(), PCRE2_UTF | PCRE2_UCP,
                                  &error_code, &error_offset, nullptr);
  if (compiled_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    throw std::invalid_argument(fmt::format("regex '{}' does not compile at offset {}: {}",
                                            hf_pattern, error_offset,
                                            reinterpret_cast<const char*>(message)));
  }
  // Without JIT support pcre2_match interprets the pattern, with the same results.
  compiled_->jit = pcre2_jit_compile(compiled_->code, PCRE2_JIT_COMPLETE) == 0;
}

RegexPreTokenizer::~RegexPreTokenizer() = default;

void RegexPreTokenizer::find_matches(std::string_view text, TextSpan span,
                                     std::vector<TextSpan>& matches) const {
  ThreadMatchState& state = thread_match_state();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + span.begin);
  const size_t length = span.end - span.begin;
  size_t offset = 0;
  while (offset < length) {
    const int rc = compiled_->jit
        ? pcre2_jit_match(compiled_->code, subject, length, offset, PCRE2_NO_UTF_CHECK,
                          state.match_data, state.context)
        : pcre2_match(compiled_->code, subject, length, offset, PCRE2_NO_UTF_CHECK,
                      state.match_data, state.context);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof(message));
      throw std::runtime_error(fmt::format("regex '{}' failed on a {}-byte piece: {}",
                                           compiled_->pattern, length,
                                           reinterpret_cast<const char*>(message)));
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data);
    const size_t match_begin = ovector[0];
    const size_t match_end = ovector[1];
    if (match_end == match_begin) {
      // An empty match splits nothing; step over one character and search again.
      size_t next = match_begin;
      utf8::decode_at(std::string_view(text.data() + span.begin, length), next);
      offset = next;
      continue;
    }
    matches.push_back({span.begin + match_begin, span.begin + match_end});
    offset = match_end;
  }
}

void RegexPreTokenizer::split(std::string_view text, TextSpan span,
                              std::vector<TextSpan>& pieces) const {
  thread_local std::vector<TextSpan> matches;
  matches.clear();
  find_matches(text, span, matches);
  size_t gap_begin = span.begin;
  for (const TextSpan& match : matches) {
    if (match.begin > gap_begin) pieces.push_back({gap_begin, match.begin});
    pieces.push_back(match);
    gap_begin = match.end;
  }
  if (gap_begin < span.end) pieces.push_back({gap_begin, span.end});
}

DigitsPreTokenizer::DigitsPreTokenizer(bool individual_digits)
    : numeric_(fmt::format("[{}]{}", unicode_classes::kNumeric,
                           individual_digits ? "" : "+")) {}

void DigitsPreTokenizer::split(std::string_view text, TextSpan span,
                               std::vector<TextSpan>& pieces) const {
  numeric_.split(text, span, pieces);
}

SequencePreTokenizer::SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
    : steps_(std::move(steps)) {}

void SequencePreTokenizer::split(std::string_view text, TextSpan span,
                                 std::vector<TextSpan>& pieces) const {
  std::vector<TextSpan> current{span};
  std::vector<TextSpan> next;
  for (const auto& step : steps_) {
    next.clear();
    for (const TextSpan& piece : current) step->split(text, piece, next);
    current.swap(next);
  }
  pieces.insert(pieces.end(), current.begin(), current.end());
}

std::unique_ptr<PreTokenizer> make_gguf_pre_tokenizer(std::string_view pre_name) {
  if (pre_name == "smollm") {
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    steps.push_back(std::make_unique<DigitsPreTokenizer>(true));
    steps.push_back(std::make_unique<RegexPreTokenizer>(kGpt2SplitPattern));
    return std::make_unique<SequencePreTokenizer>(std::move(steps));
  }
  // NOTE: llama.cpp's "default" BPE pre-tokenizer also splits punctuation runs and digit
  // triples; here "default" is plain GPT-2 splitting and is not checked against HF.
  if (pre_name == "llama3" || pre_name == "llama-v3" || pre_name == "llama-bpe" ||
      pre_name == "falcon3" || pre_name == "dbrx" || pre_name == "smaug-bpe") {
    return std::make_unique<RegexPreTokenizer>(kLlama3SplitPattern);
  }
  if (pre_name == "qwen2" || pre_name == "deepseek-r1-qwen") {
    return std::make_unique<RegexPreTokenizer>(kQwen2SplitPattern);
  }
  if (pre_name == "gpt-2" || pre_name == "gpt2" || pre_name == "default") {
    return std::make_unique<RegexPreTokenizer>(kGpt2SplitPattern);
  }
  return nullptr;
}

}  // namespace vllm
