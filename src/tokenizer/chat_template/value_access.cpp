#include "tokenizer/chat_template/value_access.h"

#include "core/errors.h"
#include "tokenizer/chat_template/builtins.h"
#include "tokenizer/chat_template/unicode_text.h"

namespace vllm::jinja {

namespace {

// jinja2's object_type_repr: "dict object", "None", ...
std::string object_description(const Value& object) {
  if (object.is_none()) return "None";
  if (object.is_namespace()) return "jinja2.utils.Namespace object";
  return object.type_name() + " object";
}

Value missing_member(const Value& object, const std::string& name_repr) {
  return Value::undefined(
      fmt::format("'{}' has no attribute {}", object_description(object), name_repr));
}

std::string quoted(const std::string& name) { return Value(name).repr(); }

// Python's index normalization; nullopt when out of range.
std::optional<size_t> normalize_index(int64_t index, size_t size) {
  if (index < 0) index += static_cast<int64_t>(size);
  if (index < 0 || index >= static_cast<int64_t>(size)) return std::nullopt;
  return static_cast<size_t>(index);
}

}  // namespace

Value get_attribute(const Value& object, const std::string& name) {
  if (object.is_undefined()) raise_undefined(object);
  if (object.is_namespace()) {
    if (const Value* v = object.namespace_attributes().find(name)) return *v;
    return missing_member(object, quoted(name));
  }
  if (auto method = find_method(object, name)) return *method;
  if (object.is_dict()) {
    if (const Value* v = object.as_dict().find(name)) return *v;
  }
  return missing_member(object, quoted(name));
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_undefined()) raise_undefined(object);
  if (object.is_dict()) {
    if (const Value* v = object.as_dict().find(key)) return *v;
  } else if ((object.is_list() || object.is_string()) && (key.is_int() || key.is_bool())) {
    if (object.is_list()) {
      if (auto i = normalize_index(key.as_int(), object.as_list().size())) {
        return object.as_list()[*i];
      }
    } else {
      const std::u32string chars = decode_utf8(object.as_string());
      if (auto i = normalize_index(key.as_int(), chars.size())) {
        return Value(encode_utf8(std::u32string_view(chars).substr(*i, 1)));
      }
    }
  }
  if (key.is_string()) {
    if (object.is_namespace()) {
      if (const Value* v = object.namespace_attributes().find(key.as_string())) return *v;
    } else if (auto method = find_method(object, key.as_string())) {
      return *method;
    }
  }
  return missing_member(object, key.repr());
}

Value get_slice(const Value& object, const Value* start, const Value* stop, const Value* step) {
  if (object.is_undefined()) raise_undefined(object);
  auto read_int = [](const Value* v, const char* what) -> std::optional<int64_t> {
    if (v == nullptr || v->is_none()) return std::nullopt;
    if (!v->is_int() && !v->is_bool()) {
      throw InvalidArgument(fmt::format(
          "slice {} must be an integer or None, not {}", what, v->type_name()));
    }
    return v->as_int();
  };
  const int64_t step_value = read_int(step, "step").value_or(1);
  if (step_value == 0) throw InvalidArgument("slice step cannot be zero");

  std::u32string chars;
  int64_t size = 0;
  if (object.is_string()) {
    chars = decode_utf8(object.as_string());
    size = static_cast<int64_t>(chars.size());
  } else if (object.is_list()) {
    size = static_cast<int64_t>(object.as_list().size());
  } else {
    throw InvalidArgument(fmt::format("'{}' object is not subscriptable", object.type_name()));
  }

  // Python's PySlice_AdjustIndices.
  auto adjust = [&](std::optional<int64_t> v, int64_t fallback) {
    if (!v) return fallback;
    int64_t x = *v;
    if (x < 0) {
      x += size;
      if (x < 0) x = step_value < 0 ? -1 : 0;
    } else if (x >= size) {
      x = step_value < 0 ? size - 1 : size;
    }
    return x;
  };
  const int64_t first = adjust(read_int(start, "start"), step_value < 0 ? size - 1 : 0);
  const int64_t last = adjust(read_int(stop, "stop"), step_value < 0 ? -1 : size);

  std::vector<int64_t> indices;
  for (int64_t i = first; step_value > 0 ? i < last : i > last; i += step_value) indices.push_back(i);
  if (object.is_string()) {
    std::u32string out;
    for (int64_t i : indices) out.push_back(chars[i]);
    return Value(encode_utf8(out));
  }
  ValueList out;
  for (int64_t i : indices) out.push_back(object.as_list()[i]);
  return Value::list(std::move(out), object.is_tuple());
}

}  // namespace vllm::jinja
