// GPT-2's byte-level alphabet: each of the 256 byte values is shown as one printable code
// point, so that byte-level BPE vocabularies are plain strings ("Ġ" is the space byte).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vllm::byte_level {

// Code point that stands for `byte` in vocabulary strings.
char32_t byte_to_code_point(uint8_t byte);

// The byte a code point stands for, or nullopt for a code point outside the alphabet.
std::optional<uint8_t> code_point_to_byte(char32_t code_point);

// Maps every byte of `bytes` to its alphabet code point, UTF-8 encoded.
std::string encode(std::string_view bytes);

// Bytes of one vocabulary token as HF's ByteLevel decoder produces them: each character
// mapped back to its byte, or, when any character of the token is outside the alphabet
// (added tokens such as "<a b>"), the token's own UTF-8 bytes unchanged. The result may be
// an incomplete UTF-8 sequence.
std::string decode_token(std::string_view token);

}  // namespace vllm::byte_level
