// Attribute and item access with jinja2's fallbacks. `a.b` tries the attribute (a method of
// str, dict or list) and then the item, and `a[b]` tries the item and then the attribute.
// A missing member gives Undefined carrying jinja2's message. A member of Undefined raises.
#pragma once

#include <string>

#include "tokenizer/chat_template/value.h"

namespace vllm::jinja {

Value get_attribute(const Value& object, const std::string& name);
Value get_item(const Value& object, const Value& key);
// Python's object[start:stop:step]; absent parts are null.
Value get_slice(const Value& object, const Value* start, const Value* stop, const Value* step);

}  // namespace vllm::jinja
