// Fuzz target for encoding and decoding arbitrary bytes with the committed SmolLM2
// tokenizer (tests/data/smollm2/tokenizer.json, byte-level BPE). The first input byte picks
// the options and the rest is the text. Byte-level BPE loses only the bytes that have no
// token, so for valid UTF-8 text encoded without added special tokens, decoding must give
// the text back without those bytes, in one call and through the incremental detokenizer.
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.h"
#include "fuzz/fuzz_support.h"
#include "tokenizer/tokenizer.h"

namespace {

const vllm::Tokenizer& smollm2_tokenizer() {
  static const std::unique_ptr<vllm::Tokenizer> tokenizer =
      vllm::load_hf_tokenizer(vllm::fuzz::test_data_path("smollm2/tokenizer.json"));
  return *tokenizer;
}

// Bytes that have a single-byte token. The SmolLM2 vocabulary lacks some (0x04, 0x06, 0x13,
// 0x14, 0x16, 0x1D among the valid UTF-8 ones), and HF tokenizers 0.23 drops such bytes when
// encoding, so text containing them cannot round-trip.
const std::array<bool, 256>& bytes_with_token() {
  static const std::array<bool, 256> has_token = [] {
    std::array<bool, 256> result{};
    const vllm::Tokenizer& tokenizer = smollm2_tokenizer();
    for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
      const std::string bytes = tokenizer.token_bytes(id);
      if (bytes.size() == 1 && !tokenizer.is_special(id)) {
        result[static_cast<uint8_t>(bytes[0])] = true;
      }
    }
    return result;
  }();
  return has_token;
}

// The text HF's decode(encode(text)) returns: `text` without the ASCII bytes that have no
// token. Returns nullopt when a byte of a multi-byte character has none, because the
// remaining bytes of that character then decode to U+FFFD.
std::optional<std::string> expected_round_trip(std::string_view text) {
  std::string expected;
  expected.reserve(text.size());
  for (const char byte : text) {
    const auto value = static_cast<uint8_t>(byte);
    if (bytes_with_token()[value]) {
      expected.push_back(byte);
    } else if (value >= 0x80) {
      return std::nullopt;
    }
  }
  return expected;
}

// Independent UTF-8 check (RFC 3629: no overlongs, no surrogates, at most U+10FFFF), so that
// the target does not trust the tokenizer's own validator.
bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    size_t length = 0;
    uint32_t code_point = 0;
    uint32_t min_code_point = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, code_point = lead & 0x1F, min_code_point = 0x80;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code_point = lead & 0x0F, min_code_point = 0x800;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code_point = lead & 0x07, min_code_point = 0x10000;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<uint8_t>(text[i + k]);
      if ((byte & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (byte & 0x3F);
    }
    if (code_point < min_code_point || code_point > 0x10FFFF) return false;
    if (code_point >= 0xD800 && code_point <= 0xDFFF) return false;
    i += length;
  }
  return true;
}

[[noreturn]] void report_mismatch(const char* what, std::string_view expected,
                                  std::string_view actual) {
  std::fprintf(stderr, "%s: expected %zu bytes, got %zu bytes\n", what, expected.size(),
               actual.size());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vllm::fuzz::silence_logs();
  if (size == 0) return 0;
  const vllm::Tokenizer& tokenizer = smollm2_tokenizer();
  const uint8_t options = data[0];
  const bool add_special_tokens = (options & 1) != 0;
  const bool skip_special_tokens = (options & 2) != 0;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);

  std::vector<int32_t> ids;
  try {
    ids = tokenizer.encode(text, add_special_tokens);
  } catch (const vllm::InvalidArgument&) {
    return 0;  // text the tokenizer rejects with a clear error (such as invalid UTF-8)
  }
  for (const int32_t id : ids) {
    if (id < 0 || id >= tokenizer.vocab_size()) std::abort();
  }
  const std::string decoded = tokenizer.decode(ids, skip_special_tokens);

  vllm::IncrementalDetokenizer detokenizer(tokenizer, skip_special_tokens);
  std::string streamed;
  for (const int32_t id : ids) streamed += detokenizer.add_token(id);
  streamed += detokenizer.flush();

  // Only valid text without added specials has a known expected output; for other inputs
  // the two decoders may place U+FFFD differently around special tokens.
  if (add_special_tokens || skip_special_tokens || !is_valid_utf8(text)) return 0;
  const std::optional<std::string> expected = expected_round_trip(text);
  if (!expected) return 0;
  if (decoded != *expected) report_mismatch("decode(encode(text))", *expected, decoded);
  if (streamed != *expected) report_mismatch("incremental detokenizer", *expected, streamed);
  return 0;
}
