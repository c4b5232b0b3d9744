// UTF-8 helpers shared by the tokenizers: validation, code point iteration and the lossy
// conversion that HF's decoders apply (Rust's String::from_utf8_lossy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vllm::utf8 {

// Length of the well-formed UTF-8 sequence that starts at text[pos], or 0 when the bytes
// there are not one (bad lead byte, bad or missing continuation, overlong, surrogate,
// above U+10FFFF).
size_t valid_sequence_length(std::string_view text, size_t pos);

bool is_valid(std::string_view text);

// Decodes the code point at text[pos] and advances pos. Precondition: valid UTF-8 there.
char32_t decode_at(std::string_view text, size_t& pos);

void append_code_point(std::string& out, char32_t code_point);

// Replaces each maximal ill-formed subsequence with U+FFFD, as the Unicode "substitution of
// maximal subparts" practice and Rust's String::from_utf8_lossy do.
std::string to_valid_lossy(std::string_view bytes);

// Length of the longest prefix of `bytes` whose lossy conversion can no longer change when
// more bytes are appended: everything except a trailing sequence that is incomplete but
// could still become valid.
size_t stable_prefix_length(std::string_view bytes);

}  // namespace vllm::utf8
