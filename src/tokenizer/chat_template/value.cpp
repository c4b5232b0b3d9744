#include "tokenizer/chat_template/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/errors.h"
#include "tokenizer/chat_template/limits.h"
#include "tokenizer/chat_template/unicode_text.h"

namespace vllm::jinja {

const Value* ValueDict::find(const Value& key) const {
  for (const auto& [k, v] : entries_) {
    if (values_equal(k, key)) return &v;
  }
  return nullptr;
}

const Value* ValueDict::find(const std::string& key) const {
  for (const auto& [k, v] : entries_) {
    if (k.is_string() && k.as_string() == key) return &v;
  }
  return nullptr;
}

void ValueDict::set(const Value& key, Value value) {
  for (auto& [k, v] : entries_) {
    if (values_equal(k, key)) {
      v = std::move(value);
      return;
    }
  }
  entries_.emplace_back(key, std::move(value));
}

Value Value::undefined(std::string hint) {
  Value v;
  v.string_ = std::make_shared<const std::string>(std::move(hint));
  return v;
}

Value Value::none() {
  Value v;
  v.kind_ = ValueKind::kNone;
  return v;
}

Value::Value(bool b) : kind_(ValueKind::kBool), bool_(b), int_(b ? 1 : 0) {}
Value::Value(int64_t i) : kind_(ValueKind::kInt), int_(i) {}
Value::Value(double d) : kind_(ValueKind::kFloat), float_(d) {}
Value::Value(std::string s)
    : kind_(ValueKind::kString), string_(std::make_shared<const std::string>(std::move(s))) {}

namespace {

// Depth and namespace flag of a container holding `items`.
template <typename Range, typename Get>
void measure_items(const Range& items, Get get, int& depth, bool& contains_namespace) {
  int deepest = 0;
  for (const auto& item : items) {
    const Value& v = get(item);
    deepest = std::max(deepest, v.depth());
    contains_namespace = contains_namespace || v.contains_namespace();
  }
  depth = deepest + 1;
  check_value_depth(depth);
}

}  // namespace

void check_value_depth(int depth) {
  if (depth > kMaxRecursionDepth) {
    throw InvalidArgument(fmt::format("a value nests deeper than kMaxRecursionDepth ({})", kMaxRecursionDepth));
  }
}

void check_namespace_attribute(const Value& value) {
  if (value.contains_namespace()) {
    throw InvalidArgument("a namespace attribute cannot hold a namespace, which is not supported");
  }
  check_value_depth(value.depth() + 1);
}

int Value::depth() const {
  if (kind_ != ValueKind::kNamespace) return depth_;
  int deepest = 0;
  for (const auto& [k, v] : dict_->entries()) deepest = std::max(deepest, v.depth());
  return deepest + 1;
}

Value Value::list(ValueList items, bool is_tuple) {
  Value v;
  v.kind_ = ValueKind::kList;
  v.is_tuple_ = is_tuple;
  measure_items(items, [](const Value& x) -> const Value& { return x; }, v.depth_, v.contains_namespace_);
  v.list_ = std::make_shared<const ValueList>(std::move(items));
  return v;
}

Value Value::dict(ValueDict entries) {
  Value v;
  v.kind_ = ValueKind::kDict;
  measure_items(entries.entries(), [](const auto& entry) -> const Value& { return entry.second; }, v.depth_,
                v.contains_namespace_);
  v.dict_ = std::make_shared<ValueDict>(std::move(entries));
  return v;
}

Value Value::make_namespace(ValueDict attributes) {
  for (const auto& [k, value] : attributes.entries()) check_namespace_attribute(value);
  Value v;
  v.kind_ = ValueKind::kNamespace;
  v.contains_namespace_ = true;
  v.dict_ = std::make_shared<ValueDict>(std::move(attributes));
  return v;
}

Value Value::callable(std::string name, Function fn) {
  Value v;
  v.kind_ = ValueKind::kCallable;
  v.string_ = std::make_shared<const std::string>(std::move(name));
  v.function_ = std::make_shared<const Function>(std::move(fn));
  return v;
}

Value Value::iterator(ValueList items, std::string type_name) {
  Value v;
  v.kind_ = ValueKind::kIterator;
  measure_items(items, [](const Value& x) -> const Value& { return x; }, v.depth_, v.contains_namespace_);
  v.list_ = std::make_shared<const ValueList>(std::move(items));
  v.string_ = std::make_shared<const std::string>(std::move(type_name));
  v.cursor_ = std::make_shared<size_t>(0);
  return v;
}

ValueList Value::consume(size_t max_items) const {
  const size_t begin = std::min(*cursor_, list_->size());
  const size_t end = begin + std::min(max_items, list_->size() - begin);
  *cursor_ = end;
  return ValueList(list_->begin() + begin, list_->begin() + end);
}

Value Value::from_json(const nlohmann::ordered_json& j, int depth) {
  check_value_depth(depth);
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null:
      return none();
    case nlohmann::ordered_json::value_t::boolean:
      return Value(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) {
        throw InvalidArgument(fmt::format(
            "integer {} in the chat template input exceeds the supported range (int64)", u));
      }
      return Value(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float:
      return Value(j.get<double>());
    case nlohmann::ordered_json::value_t::string:
      return Value(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      ValueList items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(from_json(item, depth + 1));
      return list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      ValueDict entries;
      for (auto it = j.begin(); it != j.end(); ++it) {
        entries.set(Value(it.key()), from_json(it.value(), depth + 1));
      }
      return dict(std::move(entries));
    }
    default:
      throw InvalidArgument("chat template input contains a JSON value of an unsupported type (binary)");
  }
}

const std::string& Value::name() const {
  static const std::string kEmpty;
  return string_ ? *string_ : kEmpty;
}

double Value::as_double() const {
  if (is_float()) return float_;
  return static_cast<double>(int_);
}

bool Value::truthy() const {
  switch (kind_) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return false;
    case ValueKind::kBool:
      return bool_;
    case ValueKind::kInt:
      return int_ != 0;
    case ValueKind::kFloat:
      return float_ != 0.0;
    case ValueKind::kString:
      return !string_->empty();
    case ValueKind::kList:
      return !list_->empty();
    case ValueKind::kDict:
      return dict_->size() != 0;
    case ValueKind::kNamespace:
    case ValueKind::kCallable:
    case ValueKind::kIterator:
      return true;
  }
  return false;
}

std::string format_python_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest round-trip digits, as Python's repr picks them.
  auto result = std::to_chars(buf, buf + sizeof(buf), std::abs(d), std::chars_format::scientific);
  std::string sci(buf, result.ptr);
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t i = 0; i < e_pos; ++i) {
    if (sci[i] != '.') digits.push_back(sci[i]);
  }
  const int exponent = std::atoi(sci.c_str() + e_pos + 1);
  const int decimal_point = exponent + 1;  // digits before the decimal point
  std::string out = std::signbit(d) ? "-" : "";
  if (decimal_point > -4 && decimal_point <= 16) {
    if (decimal_point <= 0) {
      out += "0." + std::string(-decimal_point, '0') + digits;
    } else if (static_cast<size_t>(decimal_point) >= digits.size()) {
      out += digits + std::string(decimal_point - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, decimal_point) + "." + digits.substr(decimal_point);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  out += fmt::format("e{}{:02d}", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out;
}

namespace {

// Python's str.isprintable() is false for these, so repr() escapes them.
bool is_unprintable(char32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0xA0) || c == 0xAD || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200F) || (c >= 0x2028 && c <= 0x202F) ||
         (c >= 0x205F && c <= 0x206F) || c == 0x3000 || (c >= 0xD800 && c <= 0xF8FF) ||
         c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB);
}

std::string python_string_repr(const std::string& s) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (char32_t c : decode_utf8(s)) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == static_cast<char32_t>(quote)) {
      out += '\\';
      out += quote;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (is_unprintable(c)) {
      out += c <= 0xFF ? fmt::format("\\x{:02x}", static_cast<unsigned>(c))
                       : fmt::format("\\u{:04x}", static_cast<unsigned>(c));
    } else {
      append_utf8(out, c);
    }
  }
  out += quote;
  return out;
}

}  // namespace

std::string Value::str() const {
  switch (kind_) {
    case ValueKind::kUndefined:
      return "";
    case ValueKind::kString:
      return *string_;
    default:
      return repr();
  }
}

std::string Value::repr() const {
  switch (kind_) {
    case ValueKind::kUndefined:
      return "";
    case ValueKind::kNone:
      return "None";
    case ValueKind::kBool:
      return bool_ ? "True" : "False";
    case ValueKind::kInt:
      return std::to_string(int_);
    case ValueKind::kFloat:
      return format_python_float(float_);
    case ValueKind::kString:
      return python_string_repr(*string_);
    case ValueKind::kList: {
      std::string out = is_tuple_ ? "(" : "[";
      for (size_t i = 0; i < list_->size(); ++i) {
        if (i > 0) out += ", ";
        out += (*list_)[i].repr();
      }
      if (is_tuple_ && list_->size() == 1) out += ",";
      out += is_tuple_ ? ")" : "]";
      return out;
    }
    case ValueKind::kDict:
    case ValueKind::kNamespace: {
      std::string out = is_namespace() ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, v] : dict_->entries()) {
        if (!first) out += ", ";
        first = false;
        out += k.repr() + ": " + v.repr();
      }
      out += is_namespace() ? "}>" : "}";
      return out;
    }
    case ValueKind::kCallable:
      return "<function " + *string_ + ">";
    case ValueKind::kIterator:
      // NOTE: Python adds the object's address, which no output can reproduce.
      return "<" + *string_ + " object>";
  }
  return "";
}

std::string Value::type_name() const {
  switch (kind_) {
    case ValueKind::kUndefined:
      return "Undefined";
    case ValueKind::kNone:
      return "NoneType";
    case ValueKind::kBool:
      return "bool";
    case ValueKind::kInt:
      return "int";
    case ValueKind::kFloat:
      return "float";
    case ValueKind::kString:
      return "str";
    case ValueKind::kList:
      return is_tuple_ ? "tuple" : "list";
    case ValueKind::kDict:
      return "dict";
    case ValueKind::kNamespace:
      return "Namespace";
    case ValueKind::kCallable:
      return "function";
    case ValueKind::kIterator:
      return *string_;
  }
  return "object";
}

bool Value::same_object(const Value& other) const {
  if (kind_ != other.kind_) return false;
  switch (kind_) {
    case ValueKind::kList:
    case ValueKind::kIterator:
      return list_ == other.list_;
    case ValueKind::kDict:
    case ValueKind::kNamespace:
      return dict_ == other.dict_;
    case ValueKind::kCallable:
      return function_ == other.function_;
    default:
      return values_equal(*this, other);
  }
}

bool values_equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case ValueKind::kUndefined:
    case ValueKind::kNone:
      return true;
    case ValueKind::kString:
      return a.as_string() == b.as_string();
    case ValueKind::kList: {
      if (a.is_tuple() != b.is_tuple()) return false;
      const auto& x = a.as_list();
      const auto& y = b.as_list();
      if (x.size() != y.size()) return false;
      for (size_t i = 0; i < x.size(); ++i) {
        if (!values_equal(x[i], y[i])) return false;
      }
      return true;
    }
    case ValueKind::kDict: {
      const auto& x = a.as_dict();
      const auto& y = b.as_dict();
      if (x.size() != y.size()) return false;
      for (const auto& [k, v] : x.entries()) {
        const Value* other = y.find(k);
        if (other == nullptr || !values_equal(v, *other)) return false;
      }
      return true;
    }
    default:
      return a.same_object(b);
  }
}

bool value_less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() < b.as_double();
    return a.as_int() < b.as_int();
  }
  if (a.is_string() && b.is_string()) {
    // Byte order of UTF-8 equals code point order, which Python compares.
    return a.as_string() < b.as_string();
  }
  if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
    const auto& x = a.as_list();
    const auto& y = b.as_list();
    for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
      if (!values_equal(x[i], y[i])) return value_less(x[i], y[i]);
    }
    return x.size() < y.size();
  }
  if (a.is_undefined()) raise_undefined(a);
  if (b.is_undefined()) raise_undefined(b);
  throw InvalidArgument(fmt::format("'<' not supported between instances of '{}' and '{}'",
                                    a.type_name(), b.type_name()));
}

namespace {

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (char32_t c : decode_utf8(s)) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20 || (ensure_ascii && c > 0x7E)) {
          if (c >= 0x10000) {
            const char32_t v = c - 0x10000;
            out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
          } else {
            out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
          }
        } else {
          append_utf8(out, c);
        }
    }
  }
  out += '"';
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return format_python_float(d);
}

// json.dumps turns non-string keys into strings this way.
std::string json_key(const Value& key) {
  switch (key.kind()) {
    case ValueKind::kString:
      return key.as_string();
    case ValueKind::kBool:
      return key.as_bool() ? "true" : "false";
    case ValueKind::kNone:
      return "null";
    case ValueKind::kInt:
      return std::to_string(key.as_int());
    case ValueKind::kFloat:
      return json_float(key.as_double());
    default:
      throw InvalidArgument(fmt::format(
          "keys must be str, int, float, bool or None, not {}", key.type_name()));
  }
}

void dump_json(std::string& out, const Value& v, const JsonDumpOptions& options, int level) {
  auto newline_indent = [&](int depth) {
    out += '\n';
    for (int i = 0; i < depth; ++i) out += options.indent;
  };
  if (out.size() > kMaxOutputBytes) {
    throw InvalidArgument(fmt::format("tojson output exceeds kMaxOutputBytes ({} bytes)",
                                      kMaxOutputBytes));
  }
  switch (v.kind()) {
    case ValueKind::kNone:
      out += "null";
      return;
    case ValueKind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case ValueKind::kInt:
      out += std::to_string(v.as_int());
      return;
    case ValueKind::kFloat:
      out += json_float(v.as_double());
      return;
    case ValueKind::kString:
      append_json_string(out, v.as_string(), options.ensure_ascii);
      return;
    case ValueKind::kList: {
      const auto& items = v.as_list();
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += options.item_separator;
        if (options.has_indent) newline_indent(level + 1);
        dump_json(out, items[i], options, level + 1);
      }
      if (options.has_indent) newline_indent(level);
      out += ']';
      return;
    }
    case ValueKind::kDict: {
      const auto& dict = v.as_dict();
      if (dict.size() == 0) {
        out += "{}";
        return;
      }
      std::vector<std::pair<std::string, const Value*>> entries;
      for (const auto& [k, value] : dict.entries()) entries.emplace_back(json_key(k), &value);
      if (options.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto& x, const auto& y) { return x.first < y.first; });
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i > 0) out += options.item_separator;
        if (options.has_indent) newline_indent(level + 1);
        append_json_string(out, entries[i].first, options.ensure_ascii);
        out += options.key_separator;
        dump_json(out, *entries[i].second, options, level + 1);
      }
      if (options.has_indent) newline_indent(level);
      out += '}';
      return;
    }
    default:
      throw InvalidArgument(
          fmt::format("Object of type {} is not JSON serializable", v.type_name()));
  }
}

}  // namespace

std::string json_dumps(const Value& value, const JsonDumpOptions& options) {
  std::string out;
  dump_json(out, value, options, 0);
  return out;
}

void raise_undefined(const Value& undefined) {
  throw InvalidArgument(undefined.name().empty() ? std::string("value is undefined")
                                                 : undefined.name());
}

}  // namespace vllm::jinja
