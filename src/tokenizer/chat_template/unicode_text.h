// UTF-8 helpers for the Python string semantics that templates rely on: lengths, indices and
// slices count code points, and strip()/split() use Python's whitespace set.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vllm::jinja {

// Decodes UTF-8; an invalid byte becomes one code point of that byte's value, so that any
// byte string round-trips through encode_utf8.
std::u32string decode_utf8(std::string_view text);
std::string encode_utf8(std::u32string_view text);
void append_utf8(std::string& out, char32_t code_point);
size_t utf8_length(std::string_view text);

// Python's str.isspace() set.
bool is_python_whitespace(char32_t c);
// Python's str.splitlines() boundaries, except that "\r\n" is handled by the caller.
bool is_python_line_break(char32_t c);

// Python str.strip/lstrip/rstrip; `chars` empty with `has_chars` false means whitespace.
std::string python_strip(std::string_view text, bool has_chars, std::string_view chars, bool left,
                         bool right);
// Python str.split(sep, maxsplit); `has_sep` false splits on runs of whitespace.
std::vector<std::string> python_split(std::string_view text, bool has_sep, std::string_view sep,
                                      int64_t maxsplit);
std::vector<std::string> python_splitlines(std::string_view text);

// Case mapping of ASCII and Latin-1 letters.
// NOTE: other scripts (Greek, Cyrillic, ...) keep their case, unlike Python's str.upper().
char32_t to_upper(char32_t c);
char32_t to_lower(char32_t c);
bool is_cased_letter(char32_t c);
std::string python_upper(std::string_view text);
std::string python_lower(std::string_view text);

}  // namespace vllm::jinja
