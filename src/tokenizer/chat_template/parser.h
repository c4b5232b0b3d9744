// Builds the syntax tree from tokens, following jinja2's grammar and operator precedence.
#pragma once

#include <string>

#include "tokenizer/chat_template/ast.h"
#include "tokenizer/chat_template/lexer.h"

namespace vllm::jinja {

struct ParsedTemplate {
  std::string source;  // normalized source, for error locations
  Body body;
};

// Raises InvalidArgument with line and column on a syntax error, and when nesting exceeds
// kMaxRecursionDepth.
ParsedTemplate parse_template(std::string_view source);

}  // namespace vllm::jinja
