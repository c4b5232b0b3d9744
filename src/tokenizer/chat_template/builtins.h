// jinja2's built-in filters and tests, HF's `tojson` override, and the Python methods of
// str, dict and list that templates call. Each raises InvalidArgument where Python raises.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/chat_template/value.h"

namespace vllm::jinja {

// Binds call arguments to parameter names in order, as a Python signature does.
class ArgReader {
 public:
  ArgReader(const CallArgs& args, std::string_view function_name,
            std::vector<std::string_view> parameter_names);
  // The argument of parameter `index`, given by position or by keyword; null when absent.
  const Value* get(size_t index) const;
  Value get_or(size_t index, Value fallback) const;

 private:
  const CallArgs& args_;
  std::vector<std::string_view> names_;
};

// Raises InvalidArgument when `name` is no filter (or test) of jinja2 or HF.
Value apply_filter(const std::string& name, const Value& input, const CallArgs& args);
bool apply_test(const std::string& name, const Value& input, const CallArgs& args);

// The bound method `object.name` as a callable, or nullopt when the type has no such method.
std::optional<Value> find_method(const Value& object, const std::string& name);

// Python's `item in container`.
bool value_contains(const Value& container, const Value& item);
// Python's iter(): list items, dict keys, string characters; Undefined iterates as empty.
ValueList iterate_value(const Value& value);
// Python's len(); Undefined has length 0, as jinja2's default Undefined does.
int64_t value_length(const Value& value);

// Raise InvalidArgument naming kMaxOutputBytes or kMaxLoopIterations when a string or list
// built by an operator or filter outgrows them.
void check_string_size(size_t num_bytes);
void check_list_size(size_t num_items);

}  // namespace vllm::jinja
