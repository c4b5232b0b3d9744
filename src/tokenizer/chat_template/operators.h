// Python semantics of jinja2's operators: int/float arithmetic, str and list concatenation
// and repetition, comparisons and membership.
#pragma once

#include <string>

#include "tokenizer/chat_template/value.h"

namespace vllm::jinja {

// op is "-", "+" or "not".
Value unary_operation(const std::string& op, const Value& operand);
// op is "+", "-", "*", "/", "//", "%", "**" or "~".
Value binary_operation(const std::string& op, const Value& left, const Value& right);
// op is "==", "!=", "<", "<=", ">", ">=", "in" or "notin".
bool compare_operation(const std::string& op, const Value& left, const Value& right);

}  // namespace vllm::jinja
