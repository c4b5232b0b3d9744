#include "tokenizer/chat_template/unicode_text.h"

namespace vllm::jinja {

std::u32string decode_utf8(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    int num_continuation = 0;
    char32_t code_point = byte;
    if (byte >= 0xF0 && byte < 0xF8) {
      num_continuation = 3;
      code_point = byte & 0x07;
    } else if (byte >= 0xE0 && byte < 0xF0) {
      num_continuation = 2;
      code_point = byte & 0x0F;
    } else if (byte >= 0xC0 && byte < 0xE0) {
      num_continuation = 1;
      code_point = byte & 0x1F;
    }
    bool valid = true;
    for (int k = 1; valid && k <= num_continuation; ++k) {
      if (i + k >= text.size() || (static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) {
        valid = false;
      } else {
        code_point = (code_point << 6) | (static_cast<unsigned char>(text[i + k]) & 0x3F);
      }
    }
    if (!valid) {
      out.push_back(byte);
      i += 1;
      continue;
    }
    out.push_back(code_point);
    i += 1 + num_continuation;
  }
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode_utf8(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char32_t c : text) {
    append_utf8(out, c);
  }
  return out;
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++n;
    }
  }
  return n;
}

bool is_python_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

bool is_python_line_break(char32_t c) {
  return c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || (c >= 0x1C && c <= 0x1E) ||
         c == 0x85 || c == 0x2028 || c == 0x2029;
}

std::string python_strip(std::string_view text, bool has_chars, std::string_view chars, bool left,
                         bool right) {
  const std::u32string s = decode_utf8(text);
  const std::u32string set = decode_utf8(chars);
  auto strip_it = [&](char32_t c) {
    return has_chars ? set.find(c) != std::u32string::npos : is_python_whitespace(c);
  };
  size_t begin = 0;
  size_t end = s.size();
  if (left) {
    while (begin < end && strip_it(s[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strip_it(s[end - 1])) --end;
  }
  return encode_utf8(std::u32string_view(s).substr(begin, end - begin));
}

std::vector<std::string> python_split(std::string_view text, bool has_sep, std::string_view sep,
                                      int64_t maxsplit) {
  std::vector<std::string> parts;
  if (has_sep) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      const size_t found = text.find(sep, pos);
      if (found == std::string_view::npos) break;
      parts.emplace_back(text.substr(pos, found - pos));
      pos = found + sep.size();
    }
    parts.emplace_back(text.substr(pos));
    return parts;
  }
  const std::u32string s = decode_utf8(text);
  size_t i = 0;
  while (true) {
    while (i < s.size() && is_python_whitespace(s[i])) ++i;
    if (i == s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      size_t end = s.size();
      while (end > i && is_python_whitespace(s[end - 1])) --end;
      parts.push_back(encode_utf8(std::u32string_view(s).substr(i, end - i)));
      break;
    }
    size_t j = i;
    while (j < s.size() && !is_python_whitespace(s[j])) ++j;
    parts.push_back(encode_utf8(std::u32string_view(s).substr(i, j - i)));
    i = j;
  }
  return parts;
}

std::vector<std::string> python_splitlines(std::string_view text) {
  const std::u32string s = decode_utf8(text);
  std::vector<std::string> lines;
  size_t start = 0;
  size_t i = 0;
  while (i < s.size()) {
    if (is_python_line_break(s[i])) {
      lines.push_back(encode_utf8(std::u32string_view(s).substr(start, i - start)));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      ++i;
      start = i;
    } else {
      ++i;
    }
  }
  if (start < s.size()) {
    lines.push_back(encode_utf8(std::u32string_view(s).substr(start)));
  }
  return lines;
}

bool is_cased_letter(char32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xFF && c != 0xD7 && c != 0xF7);
}

char32_t to_upper(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  return c;
}

char32_t to_lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  return c;
}

std::string python_upper(std::string_view text) {
  std::u32string s = decode_utf8(text);
  for (auto& c : s) c = to_upper(c);
  return encode_utf8(s);
}

std::string python_lower(std::string_view text) {
  std::u32string s = decode_utf8(text);
  for (auto& c : s) c = to_lower(c);
  return encode_utf8(s);
}

}  // namespace vllm::jinja
