// Splits a template into text and tag tokens, applying jinja2's whitespace control as HF
// configures it: trim_blocks and lstrip_blocks on, `-` strips, `+` keeps, newlines
// normalized to "\n" and one trailing newline dropped (keep_trailing_newline off).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vllm::jinja {

enum class TokenType {
  kText,
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,
  kEnd,
};

struct Token {
  TokenType type;
  std::string text;  // text data, name, decoded string literal or operator
  int64_t int_value = 0;
  double float_value = 0;
  size_t offset = 0;  // byte offset in the normalized source, for error locations
};

struct LexedTemplate {
  std::string source;  // the normalized source that offsets refer to
  std::vector<Token> tokens;
};

// Raises InvalidArgument with the line and column of a lexical error.
LexedTemplate tokenize(std::string_view source);

// "line L, column C" of a byte offset, both counted from 1.
std::string describe_location(const std::string& source, size_t offset);

}  // namespace vllm::jinja
