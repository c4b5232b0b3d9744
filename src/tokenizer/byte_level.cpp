#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace vllm::byte_level {
namespace {

// Bytes that are printable Latin-1 ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves;
// the other 68 bytes take the code points 256, 257, ... in byte order.
struct Alphabet {
  std::array<char32_t, 256> byte_to_code_point{};
  std::array<int16_t, 324> code_point_to_byte{};  // -1 where a code point maps to no byte

  Alphabet() {
    code_point_to_byte.fill(-1);
    char32_t next_extra = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) ||
                             (b >= 0xAE && b <= 0xFF);
      const char32_t code_point = printable ? static_cast<char32_t>(b) : next_extra++;
      byte_to_code_point[b] = code_point;
      code_point_to_byte[code_point] = static_cast<int16_t>(b);
    }
  }
};

const Alphabet& alphabet() {
  static const Alphabet instance;
  return instance;
}

}  // namespace

char32_t byte_to_code_point(uint8_t byte) { return alphabet().byte_to_code_point[byte]; }

std::optional<uint8_t> code_point_to_byte(char32_t code_point) {
  const auto& table = alphabet().code_point_to_byte;
  if (code_point >= table.size() || table[code_point] < 0) return std::nullopt;
  return static_cast<uint8_t>(table[code_point]);
}

std::string encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append_code_point(out, byte_to_code_point(static_cast<uint8_t>(c)));
  return out;
}

std::string decode_token(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  size_t pos = 0;
  while (pos < token.size()) {
    if (utf8::valid_sequence_length(token, pos) == 0) return std::string(token);
    const std::optional<uint8_t> byte = code_point_to_byte(utf8::decode_at(token, pos));
    if (!byte) return std::string(token);
    out += static_cast<char>(*byte);
  }
  return out;
}

}  // namespace vllm::byte_level
