// Evaluates a parsed template against a context of variables.
#pragma once

#include <string>

#include "tokenizer/chat_template/parser.h"
#include "tokenizer/chat_template/value.h"

namespace vllm::jinja {

// Renders `parsed` with `context` as the template's variables, on top of jinja2's globals
// (range, namespace, dict) and HF's (raise_exception, strftime_now). Raises InvalidArgument
// for runtime errors, with the template's own message for raise_exception(), and when a
// limit of limits.h is exceeded.
std::string render_template(const ParsedTemplate& parsed, const ValueDict& context);

}  // namespace vllm::jinja
