#include "tokenizer/utf8.h"

namespace vllm::utf8 {
namespace {

// Number of bytes a lead byte announces, 0 for bytes that cannot start a sequence.
int sequence_length_of_lead(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) return 3;
  if (lead >= 0xF0 && lead <= 0xF4) return 4;
  return 0;
}

// Allowed range of the second byte, which is narrower than 80..BF after E0, ED, F0 and F4
// (this excludes overlong forms, surrogates and code points above U+10FFFF).
void second_byte_range(uint8_t lead, uint8_t& low, uint8_t& high) {
  low = 0x80;
  high = 0xBF;
  if (lead == 0xE0) low = 0xA0;
  if (lead == 0xED) high = 0x9F;
  if (lead == 0xF0) low = 0x90;
  if (lead == 0xF4) high = 0x8F;
}

// Number of bytes at text[pos] that form a valid prefix of a sequence (the lead byte
// included), and whether the sequence is complete.
size_t valid_prefix_length(std::string_view text, size_t pos, bool& complete) {
  const uint8_t lead = static_cast<uint8_t>(text[pos]);
  const int length = sequence_length_of_lead(lead);
  complete = false;
  if (length == 0) return 0;
  if (length == 1) {
    complete = true;
    return 1;
  }
  size_t num_valid = 1;
  for (int i = 1; i < length; ++i) {
    if (pos + i >= text.size()) return num_valid;
    const uint8_t byte = static_cast<uint8_t>(text[pos + i]);
    uint8_t low = 0x80;
    uint8_t high = 0xBF;
    if (i == 1) second_byte_range(lead, low, high);
    if (byte < low || byte > high) return num_valid;
    ++num_valid;
  }
  complete = true;
  return num_valid;
}

}  // namespace

size_t valid_sequence_length(std::string_view text, size_t pos) {
  bool complete = false;
  const size_t length = valid_prefix_length(text, pos, complete);
  return complete ? length : 0;
}

bool is_valid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<uint8_t>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t length = valid_sequence_length(text, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

char32_t decode_at(std::string_view text, size_t& pos) {
  const uint8_t lead = static_cast<uint8_t>(text[pos]);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  const int length = sequence_length_of_lead(lead);
  char32_t code_point = lead & (0xFF >> (length + 1));
  for (int i = 1; i < length; ++i) {
    code_point = (code_point << 6) | (static_cast<uint8_t>(text[pos + i]) & 0x3F);
  }
  pos += length;
  return code_point;
}

void append_code_point(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string to_valid_lossy(std::string_view bytes) {
  static constexpr std::string_view kReplacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(bytes.size());
  size_t pos = 0;
  while (pos < bytes.size()) {
    bool complete = false;
    const size_t length = valid_prefix_length(bytes, pos, complete);
    if (complete) {
      out.append(bytes.substr(pos, length));
      pos += length;
    } else {
      // A bad lead byte is one maximal subpart; otherwise the valid prefix is.
      out.append(kReplacement);
      pos += length == 0 ? 1 : length;
    }
  }
  return out;
}

size_t stable_prefix_length(std::string_view bytes) {
  // Only the last (at most 3) bytes can be the start of an unfinished sequence.
  const size_t scan_from = bytes.size() > 3 ? bytes.size() - 3 : 0;
  for (size_t pos = scan_from; pos < bytes.size(); ++pos) {
    const uint8_t byte = static_cast<uint8_t>(bytes[pos]);
    if (byte >= 0x80 && byte < 0xC0) continue;  // continuation byte
    bool complete = false;
    const size_t length = valid_prefix_length(bytes, pos, complete);
    if (!complete && length > 0 && pos + length == bytes.size()) return pos;
  }
  return bytes.size();
}

}  // namespace vllm::utf8
