// Python methods of str, dict and list that chat templates call, such as
// `message.content.strip()` and `tool.items()`. The sandbox forbids mutating methods
// (list.append, dict.update), so they are absent here as they are usable nowhere in HF.
#include <algorithm>

#include "core/errors.h"
#include "tokenizer/chat_template/builtins.h"
#include "tokenizer/chat_template/unicode_text.h"

namespace vllm::jinja {

namespace {

std::string string_arg(const Value* v, const std::string& method) {
  if (v == nullptr || !v->is_string()) {
    throw InvalidArgument(fmt::format("str.{}() argument must be str, not {}", method,
                                      v ? v->type_name() : "nothing"));
  }
  return v->as_string();
}

int64_t int_arg(const Value& v, const std::string& method) {
  if (!v.is_int() && !v.is_bool()) {
    throw InvalidArgument(fmt::format("{}() argument must be int, not {}", method, v.type_name()));
  }
  return v.as_int();
}

Value string_list(const std::vector<std::string>& parts) {
  ValueList out;
  out.reserve(parts.size());
  for (const auto& p : parts) out.emplace_back(p);
  return Value::list(std::move(out));
}

std::u32string reversed(std::u32string s) {
  std::reverse(s.begin(), s.end());
  return s;
}

Value split(const std::string& s, const CallArgs& args, bool from_right) {
  const char* method = from_right ? "rsplit" : "split";
  ArgReader reader(args, method, {"sep", "maxsplit"});
  const Value sep = reader.get_or(0, Value::none());
  const int64_t maxsplit = int_arg(reader.get_or(1, Value(int64_t{-1})), method);
  const bool has_sep = !sep.is_none();
  const std::string separator = has_sep ? string_arg(&sep, method) : "";
  if (has_sep && separator.empty()) throw InvalidArgument("empty separator");
  if (!from_right || maxsplit < 0) return string_list(python_split(s, has_sep, separator, maxsplit));
  // rsplit with a limit: split the reversed text and reverse back.
  const std::string text = encode_utf8(reversed(decode_utf8(s)));
  const std::string sep_reversed = encode_utf8(reversed(decode_utf8(separator)));
  std::vector<std::string> parts = python_split(text, has_sep, sep_reversed, maxsplit);
  std::reverse(parts.begin(), parts.end());
  for (auto& p : parts) p = encode_utf8(reversed(decode_utf8(p)));
  return string_list(parts);
}

bool affix_matches(const std::string& s, const Value& affix, bool at_start, const std::string& method) {
  auto one = [&](const Value& v) {
    const std::string a = string_arg(&v, method);
    if (a.size() > s.size()) return false;
    return at_start ? s.compare(0, a.size(), a) == 0 : s.compare(s.size() - a.size(), a.size(), a) == 0;
  };
  if (affix.is_tuple()) {
    return std::any_of(affix.as_list().begin(), affix.as_list().end(), one);
  }
  return one(affix);
}

// Python's str.title(): a cased letter after an uncased character starts a word.
std::string python_title(const std::string& s) {
  std::u32string chars = decode_utf8(s);
  bool previous_cased = false;
  for (auto& c : chars) {
    c = previous_cased ? to_lower(c) : to_upper(c);
    previous_cased = is_cased_letter(c);
  }
  return encode_utf8(chars);
}

// str.format with `{}`, `{0}` and `{name}` fields.
// NOTE: format specs and conversions (`{:>10}`, `{!r}`) are rejected, not applied.
std::string python_format(const std::string& s, const CallArgs& args) {
  std::string out;
  size_t next_auto = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '{' && i + 1 < s.size() && s[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < s.size() && s[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      const size_t close = s.find('}', i);
      if (close == std::string::npos) throw InvalidArgument("Single '{' encountered in format string");
      const std::string field = s.substr(i + 1, close - i - 1);
      if (field.find_first_of(":!") != std::string::npos) {
        throw InvalidArgument(fmt::format("str.format() field '{}' is not supported", field));
      }
      const Value* value = nullptr;
      if (field.empty() || std::all_of(field.begin(), field.end(), ::isdigit)) {
        const size_t index = field.empty() ? next_auto++ : std::stoul(field);
        if (index >= args.positional.size()) {
          throw InvalidArgument(fmt::format("Replacement index {} out of range for positional args tuple", index));
        }
        value = &args.positional[index];
      } else {
        for (const auto& [key, v] : args.keyword) {
          if (key == field) value = &v;
        }
        if (value == nullptr) throw InvalidArgument(fmt::format("KeyError: '{}'", field));
      }
      out += value->str();
      check_string_size(out.size());
      i = close;
    } else if (c == '}') {
      throw InvalidArgument("Single '}' encountered in format string");
    } else {
      out += c;
    }
  }
  return out;
}

template <typename Predicate>
bool all_chars(const std::string& s, Predicate predicate) {
  const std::u32string chars = decode_utf8(s);
  return !chars.empty() && std::all_of(chars.begin(), chars.end(), predicate);
}

std::optional<Value> call_string_method(const std::string& s, const std::string& name, const CallArgs& args) {
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    ArgReader reader(args, name, {"chars"});
    const Value chars = reader.get_or(0, Value::none());
    const bool has_chars = !chars.is_none();
    return Value(python_strip(s, has_chars, has_chars ? string_arg(&chars, name) : "",
                              name != "rstrip", name != "lstrip"));
  }
  if (name == "split") return split(s, args, false);
  if (name == "rsplit") return split(s, args, true);
  if (name == "splitlines") return string_list(python_splitlines(s));
  if (name == "startswith" || name == "endswith") {
    ArgReader reader(args, name, {"prefix"});
    const Value* affix = reader.get(0);
    if (affix == nullptr) throw InvalidArgument(fmt::format("{}() takes at least 1 argument (0 given)", name));
    return Value(affix_matches(s, *affix, name == "startswith", name));
  }
  if (name == "upper") return Value(python_upper(s));
  if (name == "lower") return Value(python_lower(s));
  if (name == "title") return Value(python_title(s));
  if (name == "capitalize") return apply_filter("capitalize", Value(s), {});
  if (name == "replace") {
    ArgReader reader(args, name, {"old", "new", "count"});
    CallArgs filter_args;
    filter_args.positional = {Value(string_arg(reader.get(0), name)), Value(string_arg(reader.get(1), name)),
                              reader.get_or(2, Value::none())};
    if (filter_args.positional[2].is_int() && filter_args.positional[2].as_int() < 0) {
      filter_args.positional[2] = Value::none();
    }
    return apply_filter("replace", Value(s), filter_args);
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    ArgReader reader(args, name, {"sub"});
    const std::string sub = string_arg(reader.get(0), name);
    if (name == "count") {
      if (sub.empty()) return Value(static_cast<int64_t>(utf8_length(s) + 1));
      int64_t n = 0;
      for (size_t pos = s.find(sub); pos != std::string::npos; pos = s.find(sub, pos + sub.size())) ++n;
      return Value(n);
    }
    const size_t byte_pos = (name == "find" || name == "index") ? s.find(sub) : s.rfind(sub);
    if (byte_pos == std::string::npos) {
      if (name == "index" || name == "rindex") throw InvalidArgument("substring not found");
      return Value(int64_t{-1});
    }
    return Value(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, byte_pos))));
  }
  if (name == "join") {
    ArgReader reader(args, name, {"iterable"});
    const Value* items = reader.get(0);
    if (items == nullptr) throw InvalidArgument("str.join() takes exactly one argument (0 given)");
    std::string out;
    bool first = true;
    for (const auto& item : iterate_value(*items)) {
      if (!item.is_string()) {
        throw InvalidArgument(fmt::format("sequence item: expected str instance, {} found", item.type_name()));
      }
      if (!first) out += s;
      first = false;
      out += item.as_string();
      check_string_size(out.size());
    }
    return Value(out);
  }
  if (name == "format") return Value(python_format(s, args));
  if (name == "center") return apply_filter("center", Value(s), args);
  if (name == "isdigit") return Value(all_chars(s, [](char32_t c) { return c >= '0' && c <= '9'; }));
  if (name == "isspace") return Value(all_chars(s, is_python_whitespace));
  if (name == "isalpha") return Value(all_chars(s, is_cased_letter));
  if (name == "isalnum") {
    return Value(all_chars(s, [](char32_t c) { return is_cased_letter(c) || (c >= '0' && c <= '9'); }));
  }
  if (name == "islower") return Value(apply_test("lower", Value(s), {}));
  if (name == "isupper") return Value(apply_test("upper", Value(s), {}));
  return std::nullopt;
}

std::optional<Value> call_dict_method(const Value& dict, const std::string& name, const CallArgs& args) {
  if (name == "items") {
    // dict.items() is a view: sized and reusable, unlike the `items` filter's generator.
    // NOTE: views print as lists here, where Python prints dict_items([...]).
    ArgReader reader(args, name, {});
    ValueList pairs;
    for (const auto& [k, v] : dict.as_dict().entries()) pairs.push_back(Value::list({k, v}, true));
    return Value::list(std::move(pairs));
  }
  if (name == "keys" || name == "values") {
    ArgReader reader(args, name, {});
    ValueList out;
    for (const auto& [k, v] : dict.as_dict().entries()) out.push_back(name == "keys" ? k : v);
    return Value::list(std::move(out));
  }
  if (name == "get") {
    ArgReader reader(args, name, {"key", "default"});
    const Value* key = reader.get(0);
    if (key == nullptr) throw InvalidArgument("get expected at least 1 argument, got 0");
    if (const Value* v = dict.as_dict().find(*key)) return *v;
    return reader.get_or(1, Value::none());
  }
  return std::nullopt;
}

std::optional<Value> call_list_method(const Value& list, const std::string& name, const CallArgs& args) {
  if (name == "index" || name == "count") {
    ArgReader reader(args, name, {"value"});
    const Value* needle = reader.get(0);
    if (needle == nullptr) throw InvalidArgument(fmt::format("{}() takes exactly one argument (0 given)", name));
    int64_t count = 0;
    const auto& items = list.as_list();
    for (size_t i = 0; i < items.size(); ++i) {
      if (!values_equal(items[i], *needle)) continue;
      if (name == "index") return Value(static_cast<int64_t>(i));
      ++count;
    }
    if (name == "index") throw InvalidArgument(fmt::format("{} is not in list", needle->repr()));
    return Value(count);
  }
  return std::nullopt;
}

bool is_method_name(const Value& object, const std::string& name) {
  static const char* kStringMethods[] = {
      "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith",
      "upper", "lower", "title", "capitalize", "replace", "find", "rfind", "index", "rindex",
      "count", "join", "format", "center", "isdigit", "isspace", "isalpha", "isalnum",
      "islower", "isupper"};
  static const char* kDictMethods[] = {"items", "keys", "values", "get"};
  static const char* kListMethods[] = {"index", "count"};
  auto in = [&](const auto& names) {
    return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return name == n; });
  };
  if (object.is_string()) return in(kStringMethods);
  if (object.is_dict()) return in(kDictMethods);
  if (object.is_list()) return in(kListMethods);
  return false;
}

}  // namespace

std::optional<Value> find_method(const Value& object, const std::string& name) {
  if (!is_method_name(object, name)) return std::nullopt;
  return Value::callable(object.type_name() + "." + name, [object, name](const CallArgs& args) {
    std::optional<Value> result;
    if (object.is_string()) result = call_string_method(object.as_string(), name, args);
    if (object.is_dict()) result = call_dict_method(object, name, args);
    if (object.is_list()) result = call_list_method(object, name, args);
    if (!result) throw InvalidArgument(fmt::format("'{}' object has no method '{}'", object.type_name(), name));
    return *result;
  });
}

}  // namespace vllm::jinja
