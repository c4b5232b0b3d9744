#include "tokenizer/chat_template/builtins.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/errors.h"
#include "tokenizer/chat_template/limits.h"
#include "tokenizer/chat_template/unicode_text.h"
#include "tokenizer/chat_template/value_access.h"

namespace vllm::jinja {

ArgReader::ArgReader(const CallArgs& args, std::string_view function_name,
                     std::vector<std::string_view> parameter_names)
    : args_(args), names_(std::move(parameter_names)) {
  if (args.positional.size() > names_.size()) {
    throw InvalidArgument(fmt::format("{}() takes at most {} argument(s) ({} given)", function_name,
                                      names_.size(), args.positional.size()));
  }
  for (const auto& [key, value] : args.keyword) {
    const auto it = std::find(names_.begin(), names_.end(), key);
    if (it == names_.end()) {
      throw InvalidArgument(
          fmt::format("{}() got an unexpected keyword argument '{}'", function_name, key));
    }
    if (static_cast<size_t>(it - names_.begin()) < args.positional.size()) {
      throw InvalidArgument(
          fmt::format("{}() got multiple values for argument '{}'", function_name, key));
    }
  }
}

const Value* ArgReader::get(size_t index) const {
  if (index < args_.positional.size()) return &args_.positional[index];
  for (const auto& [key, value] : args_.keyword) {
    if (key == names_[index]) return &value;
  }
  return nullptr;
}

Value ArgReader::get_or(size_t index, Value fallback) const {
  const Value* v = get(index);
  return v ? *v : std::move(fallback);
}

void check_string_size(size_t num_bytes) {
  if (num_bytes > kMaxOutputBytes) {
    throw InvalidArgument(fmt::format("a string of {} bytes exceeds kMaxOutputBytes ({} bytes)",
                                      num_bytes, kMaxOutputBytes));
  }
}

void check_list_size(size_t num_items) {
  if (num_items > static_cast<size_t>(kMaxLoopIterations)) {
    throw InvalidArgument(fmt::format("a list of {} items exceeds kMaxLoopIterations ({})",
                                      num_items, kMaxLoopIterations));
  }
}

ValueList iterate_value(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return {};
    case ValueKind::kList:
      return value.as_list();
    case ValueKind::kIterator:
      return value.consume();
    case ValueKind::kDict: {
      ValueList keys;
      for (const auto& [k, v] : value.as_dict().entries()) keys.push_back(k);
      return keys;
    }
    case ValueKind::kString: {
      ValueList chars;
      for (char32_t c : decode_utf8(value.as_string())) {
        std::string s;
        append_utf8(s, c);
        chars.emplace_back(std::move(s));
      }
      return chars;
    }
    default:
      throw InvalidArgument(fmt::format("'{}' object is not iterable", value.type_name()));
  }
}

int64_t value_length(const Value& value) {
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return 0;
    case ValueKind::kString:
      return static_cast<int64_t>(utf8_length(value.as_string()));
    case ValueKind::kList:
      return static_cast<int64_t>(value.as_list().size());
    case ValueKind::kDict:
      return static_cast<int64_t>(value.as_dict().size());
    default:
      throw InvalidArgument(fmt::format("object of type '{}' has no len()", value.type_name()));
  }
}

bool value_contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case ValueKind::kUndefined:
      return false;
    case ValueKind::kString:
      if (!item.is_string()) {
        throw InvalidArgument(fmt::format("'in <string>' requires string as left operand, not {}",
                                          item.type_name()));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case ValueKind::kList:
      for (const auto& v : container.as_list()) {
        if (values_equal(v, item)) return true;
      }
      return false;
    case ValueKind::kDict:
      return container.as_dict().find(item) != nullptr;
    case ValueKind::kIterator:
      // Python consumes the iterator up to and including the first match.
      while (true) {
        const ValueList next = container.consume(1);
        if (next.empty()) return false;
        if (values_equal(next[0], item)) return true;
      }
    default:
      throw InvalidArgument(
          fmt::format("argument of type '{}' is not iterable", container.type_name()));
  }
}

namespace {

std::string require_string_arg(const Value* v, std::string_view function_name) {
  if (v == nullptr) throw InvalidArgument(fmt::format("{}() is missing a required argument", function_name));
  if (!v->is_string()) {
    throw InvalidArgument(fmt::format("{}() argument must be str, not {}", function_name, v->type_name()));
  }
  return v->as_string();
}

int64_t require_int_arg(const Value& v, std::string_view function_name) {
  if (!v.is_int() && !v.is_bool()) {
    throw InvalidArgument(fmt::format("{}() argument must be int, not {}", function_name, v.type_name()));
  }
  return v.as_int();
}

// Python's str.replace, including the empty `old` case that inserts between characters.
std::string python_replace(const std::string& s, const std::string& old, const std::string& replacement,
                           int64_t count) {
  std::string out;
  if (old.empty()) {
    const std::u32string chars = decode_utf8(s);
    int64_t done = 0;
    for (size_t i = 0; i <= chars.size(); ++i) {
      if (count < 0 || done < count) {
        out += replacement;
        ++done;
        check_string_size(out.size());
      }
      if (i < chars.size()) append_utf8(out, chars[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t found = s.find(old, pos);
    if (found == std::string::npos) break;
    out.append(s, pos, found - pos);
    out += replacement;
    check_string_size(out.size());
    pos = found + old.size();
    ++done;
  }
  out.append(s, pos, std::string::npos);
  return out;
}

// Lowercases strings for the case-insensitive comparisons of sort, unique, dictsort.
Value fold_case(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value(python_lower(v.as_string()));
  return v;
}

// jinja2's make_attrgetter: "a.b.0" looks up a, then b, then item 0.
Value lookup_attribute_path(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    const bool is_index = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    current = get_item(current, is_index ? Value(static_cast<int64_t>(std::stoll(part))) : Value(part));
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

Value key_of(const Value& item, const Value* attribute) {
  if (attribute == nullptr || attribute->is_none()) return item;
  if (attribute->is_int()) return get_item(item, *attribute);
  return lookup_attribute_path(item, attribute->str());
}

void sort_values(ValueList& items, const std::function<Value(const Value&)>& key, bool reverse) {
  std::vector<std::pair<Value, Value>> keyed;
  keyed.reserve(items.size());
  for (auto& item : items) keyed.emplace_back(key(item), item);
  // Python's sort is stable, and reverse=True keeps equal items in their original order.
  std::stable_sort(keyed.begin(), keyed.end(), [reverse](const auto& a, const auto& b) {
    return reverse ? value_less(b.first, a.first) : value_less(a.first, b.first);
  });
  for (size_t i = 0; i < items.size(); ++i) items[i] = std::move(keyed[i].second);
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// Python's round(x, ndigits) for floats: the exact binary value rounded half to even,
// which printf's correctly rounded conversion also computes.
double python_round(double x, int64_t ndigits) {
  if (!std::isfinite(x)) return x;
  if (ndigits > 300) return x;
  if (ndigits < -308) return std::copysign(0.0, x);
  if (ndigits < 0) {
    const double scale = std::pow(10.0, static_cast<double>(-ndigits));
    return std::nearbyint(x / scale) * scale;
  }
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(ndigits), x);
  return std::strtod(buf, nullptr);
}

// Python's int() of a string: optional sign, digits with single underscores, surrounding
// whitespace allowed.
std::optional<int64_t> parse_python_int(const std::string& text, int base) {
  const std::string s = python_strip(text, false, "", true, true);
  if (s.empty()) return std::nullopt;
  size_t i = 0;
  bool negative = false;
  if (s[i] == '+' || s[i] == '-') negative = s[i++] == '-';
  if (i >= s.size()) return std::nullopt;
  // Base prefixes: optional for their own base, required to pick one when base is 0.
  if (i + 1 < s.size() && s[i] == '0') {
    const char p = static_cast<char>(std::tolower(static_cast<unsigned char>(s[i + 1])));
    const int prefix_base = p == 'x' ? 16 : (p == 'o' ? 8 : (p == 'b' ? 2 : 0));
    if (prefix_base != 0 && (base == 0 || base == prefix_base)) {
      base = prefix_base;
      i += 2;
      if (i < s.size() && s[i] == '_') ++i;
    }
  }
  if (base == 0) {
    base = 10;
    // Python rejects leading zeros in base 0 ("010"), except for zero itself.
    if (s[i] == '0' && s.find_first_not_of("0_", i) != std::string::npos) return std::nullopt;
  }
  if (base < 2 || base > 36) return std::nullopt;
  int64_t value = 0;
  bool previous_digit = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '_' && previous_digit && i + 1 < s.size()) {
      previous_digit = false;
      continue;
    }
    int digit = -1;
    if (c >= '0' && c <= '9') digit = c - '0';
    if (c >= 'a' && c <= 'z') digit = c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') digit = c - 'A' + 10;
    if (digit < 0 || digit >= base) return std::nullopt;
    if (__builtin_mul_overflow(value, base, &value) || __builtin_add_overflow(value, digit, &value)) {
      return std::nullopt;
    }
    previous_digit = true;
  }
  if (!previous_digit) return std::nullopt;
  return negative ? -value : value;
}

std::optional<double> parse_python_float(const std::string& text) {
  std::string s = python_strip(text, false, "", true, true);
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  // strtod accepts hex floats and "nan(...)", which Python's float() does not.
  if (s.find_first_of("xX(") != std::string::npos) return std::nullopt;
  return d;
}

std::string indent_text(const std::string& s, const std::string& indentation, bool first, bool blank) {
  const std::vector<std::string> lines = python_splitlines(s + "\n");
  std::string out;
  if (blank) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out += "\n" + indentation;
      out += lines[i];
    }
  } else if (!lines.empty()) {
    out = lines[0];
    for (size_t i = 1; i < lines.size(); ++i) {
      out += "\n";
      if (!lines[i].empty()) out += indentation;
      out += lines[i];
    }
  }
  if (first) out = indentation + out;
  return out;
}

JsonDumpOptions json_options(const ArgReader& args) {
  JsonDumpOptions options;
  options.ensure_ascii = args.get_or(1, Value(false)).truthy();
  const Value indent = args.get_or(2, Value::none());
  if (!indent.is_none()) {
    options.has_indent = true;
    options.item_separator = ",";
    if (indent.is_string()) {
      options.indent = indent.as_string();
    } else {
      options.indent = std::string(std::max<int64_t>(0, require_int_arg(indent, "tojson")), ' ');
    }
  }
  const Value separators = args.get_or(3, Value::none());
  if (!separators.is_none()) {
    if (!separators.is_list() || separators.as_list().size() != 2) {
      throw InvalidArgument("tojson() separators must be an (item_separator, key_separator) pair");
    }
    options.item_separator = separators.as_list()[0].str();
    options.key_separator = separators.as_list()[1].str();
  }
  options.sort_keys = args.get_or(4, Value(false)).truthy();
  return options;
}

Value filter_map(const Value& input, const CallArgs& args) {
  ValueList out;
  const Value* attribute = nullptr;
  Value fallback;
  bool has_fallback = false;
  for (const auto& [key, value] : args.keyword) {
    if (key == "attribute") attribute = &value;
    if (key == "default") {
      fallback = value;
      has_fallback = true;
    }
  }
  if (attribute != nullptr) {
    for (const auto& item : iterate_value(input)) {
      Value v = key_of(item, attribute);
      out.push_back(v.is_undefined() && has_fallback ? fallback : v);
    }
    return Value::iterator(std::move(out), "generator");
  }
  if (args.positional.empty()) throw InvalidArgument("map() requires a filter name or attribute=");
  const std::string name = args.positional[0].str();
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const auto& item : iterate_value(input)) out.push_back(apply_filter(name, item, rest));
  return Value::iterator(std::move(out), "generator");
}

// select/reject (by_attribute false) and selectattr/rejectattr (true).
Value filter_select(const Value& input, const CallArgs& args, bool by_attribute, bool keep_matches) {
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty()) throw InvalidArgument("selectattr() requires an attribute name");
    attribute = args.positional[next++].str();
  }
  std::optional<std::string> test;
  if (next < args.positional.size()) test = args.positional[next++].str();
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + std::min(next, args.positional.size()),
                              args.positional.end());
  test_args.keyword = args.keyword;
  ValueList out;
  for (const auto& item : iterate_value(input)) {
    const Value subject = by_attribute ? lookup_attribute_path(item, attribute) : item;
    const bool matches = test ? apply_test(*test, subject, test_args) : subject.truthy();
    if (matches == keep_matches) out.push_back(item);
  }
  return Value::iterator(std::move(out), "generator");
}

std::string title_case(const std::string& s) {
  std::u32string chars = decode_utf8(s);
  bool word_start = true;
  for (auto& c : chars) {
    c = word_start ? to_upper(c) : to_lower(c);
    word_start = c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_python_whitespace(c);
  }
  return encode_utf8(chars);
}

std::string capitalize(const std::string& s) {
  std::u32string chars = decode_utf8(s);
  for (size_t i = 0; i < chars.size(); ++i) chars[i] = i == 0 ? to_upper(chars[i]) : to_lower(chars[i]);
  return encode_utf8(chars);
}

std::string center(const std::string& s, int64_t width) {
  const int64_t length = static_cast<int64_t>(utf8_length(s));
  if (width <= length) return s;
  check_string_size(static_cast<size_t>(width));
  const int64_t margin = width - length;
  const int64_t left = margin / 2 + (margin & width & 1);
  return std::string(left, ' ') + s + std::string(margin - left, ' ');
}

Value min_max(const Value& input, const CallArgs& args, bool want_max, const char* name) {
  ArgReader reader(args, name, {"case_sensitive", "attribute"});
  const bool case_sensitive = reader.get_or(0, Value(false)).truthy();
  const Value* attribute = reader.get(1);
  const ValueList items = iterate_value(input);
  if (items.empty()) return Value::undefined(fmt::format("No aggregated item, sequence was empty."));
  size_t best = 0;
  Value best_key = fold_case(key_of(items[0], attribute), case_sensitive);
  for (size_t i = 1; i < items.size(); ++i) {
    Value k = fold_case(key_of(items[i], attribute), case_sensitive);
    if (want_max ? value_less(best_key, k) : value_less(k, best_key)) {
      best = i;
      best_key = std::move(k);
    }
  }
  return items[best];
}

Value add_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return Value(a.as_double() + b.as_double());
    int64_t sum;
    if (__builtin_add_overflow(a.as_int(), b.as_int(), &sum)) throw InvalidArgument("integer overflow in sum()");
    return Value(sum);
  }
  throw InvalidArgument(fmt::format("unsupported operand type(s) for +: '{}' and '{}'", a.type_name(), b.type_name()));
}

// Filters on text: trim, case mapping, escaping, replace, join.
std::optional<Value> filter_text(const std::string& name, const Value& input, const CallArgs& args) {
  if (name == "trim") {
    ArgReader reader(args, name, {"chars"});
    const Value* chars = reader.get(0);
    const bool has_chars = chars != nullptr && !chars->is_none();
    return Value(python_strip(input.str(), has_chars, has_chars ? chars->str() : "", true, true));
  }
  if (name == "length" || name == "count") {
    ArgReader reader(args, name, {});
    return Value(value_length(input));
  }
  if (name == "upper") return Value(python_upper(input.str()));
  if (name == "lower") return Value(python_lower(input.str()));
  if (name == "title") return Value(title_case(input.str()));
  if (name == "capitalize") return Value(capitalize(input.str()));
  if (name == "string") return Value(input.str());
  if (name == "safe") return Value(input.str());
  if (name == "escape" || name == "e" || name == "forceescape") return Value(html_escape(input.str()));
  if (name == "replace") {
    ArgReader reader(args, name, {"old", "new", "count"});
    const Value count = reader.get_or(2, Value::none());
    return Value(python_replace(input.str(), require_string_arg(reader.get(0), name),
                                require_string_arg(reader.get(1), name),
                                count.is_none() ? -1 : require_int_arg(count, name)));
  }
  if (name == "join") {
    ArgReader reader(args, name, {"d", "attribute"});
    const std::string separator = reader.get_or(0, Value("")).str();
    const Value* attribute = reader.get(1);
    std::string out;
    bool first = true;
    for (const auto& item : iterate_value(input)) {
      if (!first) out += separator;
      first = false;
      out += key_of(item, attribute).str();
      check_string_size(out.size());
    }
    return Value(out);
  }
  return std::nullopt;
}

// Filters picking from a sequence: default, first, last, list, reverse, tojson.
std::optional<Value> filter_sequence_items(const std::string& name, const Value& input, const CallArgs& args) {
  if (name == "default" || name == "d") {
    ArgReader reader(args, name, {"default_value", "boolean"});
    const bool boolean = reader.get_or(1, Value(false)).truthy();
    if (input.is_undefined() || (boolean && !input.truthy())) return reader.get_or(0, Value(""));
    return input;
  }
  if (name == "first") {
    const ValueList items = input.is_iterator() ? input.consume(1) : iterate_value(input);
    if (items.empty()) return Value::undefined("No first item, sequence was empty.");
    return items.front();
  }
  if (name == "last") {
    if (input.is_iterator()) {
      throw InvalidArgument(fmt::format("'{}' object is not reversible", input.type_name()));
    }
    const ValueList items = iterate_value(input);
    if (items.empty()) return Value::undefined("No last item, sequence was empty.");
    return items.back();
  }
  if (name == "list") return Value::list(iterate_value(input));
  if (name == "reverse") {
    if (input.is_string()) {
      std::u32string chars = decode_utf8(input.as_string());
      std::reverse(chars.begin(), chars.end());
      return Value(encode_utf8(chars));
    }
    ValueList items = iterate_value(input);
    std::reverse(items.begin(), items.end());
    // reversed() of a list or dict is an iterator; an iterator is reversed into a list.
    if (input.is_list()) return Value::iterator(std::move(items), "list_reverseiterator");
    if (input.is_dict()) return Value::iterator(std::move(items), "dict_reversekeyiterator");
    return Value::list(std::move(items));
  }
  if (name == "tojson") {
    // Position 0 is the filtered value itself in HF's signature, so arguments start at 1.
    CallArgs shifted;
    shifted.positional.push_back(input);
    shifted.positional.insert(shifted.positional.end(), args.positional.begin(), args.positional.end());
    shifted.keyword = args.keyword;
    ArgReader full(shifted, name, {"x", "ensure_ascii", "indent", "separators", "sort_keys"});
    std::string out = json_dumps(input, json_options(full));
    check_string_size(out.size());
    return Value(std::move(out));
  }
  return std::nullopt;
}

// Numeric filters: int, float, abs, round.
std::optional<Value> filter_number(const std::string& name, const Value& input, const CallArgs& args) {
  if (name == "int") {
    ArgReader reader(args, name, {"default", "base"});
    const Value fallback = reader.get_or(0, Value(int64_t{0}));
    const int64_t base = require_int_arg(reader.get_or(1, Value(int64_t{10})), name);
    if (input.is_int() || input.is_bool()) return Value(input.as_int());
    if (input.is_float()) {
      if (!std::isfinite(input.as_double())) return fallback;
      return Value(static_cast<int64_t>(input.as_double()));
    }
    if (input.is_string()) {
      if (auto v = parse_python_int(input.as_string(), static_cast<int>(base))) return Value(*v);
      if (auto d = parse_python_float(input.as_string()); d && std::isfinite(*d)) {
        return Value(static_cast<int64_t>(*d));
      }
    }
    return fallback;
  }
  if (name == "float") {
    ArgReader reader(args, name, {"default"});
    const Value fallback = reader.get_or(0, Value(0.0));
    if (input.is_number()) return Value(input.as_double());
    if (input.is_string()) {
      if (auto d = parse_python_float(input.as_string())) return Value(*d);
    }
    return fallback;
  }
  if (name == "abs") {
    if (input.is_float()) return Value(std::abs(input.as_double()));
    if (input.is_int() || input.is_bool()) return Value(std::abs(input.as_int()));
    throw InvalidArgument(fmt::format("bad operand type for abs(): '{}'", input.type_name()));
  }
  if (name == "round") {
    ArgReader reader(args, name, {"precision", "method"});
    const int64_t precision = require_int_arg(reader.get_or(0, Value(int64_t{0})), name);
    const std::string method = reader.get_or(1, Value("common")).str();
    if (!input.is_number()) throw InvalidArgument(fmt::format("type {} doesn't define __round__ method", input.type_name()));
    if (method == "common") {
      if (!input.is_float()) return Value(input.as_int());
      return Value(python_round(input.as_double(), precision));
    }
    if (method != "floor" && method != "ceil") {
      throw InvalidArgument("method must be 'common', 'ceil' or 'floor'");
    }
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double scaled = input.as_double() * scale;
    return Value((method == "floor" ? std::floor(scaled) : std::ceil(scaled)) / scale);
  }
  return std::nullopt;
}

// Filters over collections: items, dictsort, sort, unique, min, max, sum, map, select.
std::optional<Value> filter_collection(const std::string& name, const Value& input, const CallArgs& args) {
  if (name == "items") {
    if (input.is_undefined()) return Value::list({});
    if (!input.is_dict()) throw InvalidArgument("Can only get item pairs from a mapping.");
    ValueList pairs;
    for (const auto& [k, v] : input.as_dict().entries()) pairs.push_back(Value::list({k, v}, true));
    return Value::iterator(std::move(pairs), "generator");
  }
  if (name == "dictsort") {
    ArgReader reader(args, name, {"case_sensitive", "by", "reverse"});
    const bool case_sensitive = reader.get_or(0, Value(false)).truthy();
    const std::string by = reader.get_or(1, Value("key")).str();
    const bool reverse = reader.get_or(2, Value(false)).truthy();
    if (by != "key" && by != "value") throw InvalidArgument("You can only sort by either 'key' or 'value'");
    ValueList pairs = iterate_value(apply_filter("items", input, {}));
    const size_t position = by == "key" ? 0 : 1;
    sort_values(pairs, [&](const Value& pair) { return fold_case(pair.as_list()[position], case_sensitive); },
                reverse);
    return Value::list(std::move(pairs));
  }
  if (name == "sort") {
    ArgReader reader(args, name, {"reverse", "case_sensitive", "attribute"});
    const bool reverse = reader.get_or(0, Value(false)).truthy();
    const bool case_sensitive = reader.get_or(1, Value(false)).truthy();
    const Value* attribute = reader.get(2);
    ValueList items = iterate_value(input);
    sort_values(items, [&](const Value& item) { return fold_case(key_of(item, attribute), case_sensitive); },
                reverse);
    return Value::list(std::move(items));
  }
  if (name == "unique") {
    ArgReader reader(args, name, {"case_sensitive", "attribute"});
    const bool case_sensitive = reader.get_or(0, Value(false)).truthy();
    const Value* attribute = reader.get(1);
    ValueList out;
    ValueList seen;
    for (const auto& item : iterate_value(input)) {
      Value key = fold_case(key_of(item, attribute), case_sensitive);
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); })) {
        seen.push_back(std::move(key));
        out.push_back(item);
      }
    }
    return Value::iterator(std::move(out), "generator");
  }
  if (name == "min") return min_max(input, args, false, "min");
  if (name == "max") return min_max(input, args, true, "max");
  if (name == "sum") {
    ArgReader reader(args, name, {"attribute", "start"});
    const Value* attribute = reader.get(0);
    Value total = reader.get_or(1, Value(int64_t{0}));
    for (const auto& item : iterate_value(input)) total = add_values(total, key_of(item, attribute));
    return total;
  }
  if (name == "map") return filter_map(input, args);
  if (name == "select") return filter_select(input, args, false, true);
  if (name == "reject") return filter_select(input, args, false, false);
  if (name == "selectattr") return filter_select(input, args, true, true);
  if (name == "rejectattr") return filter_select(input, args, true, false);
  return std::nullopt;
}

// Layout and lookup filters: indent, center, wordcount, attr.
std::optional<Value> filter_layout(const std::string& name, const Value& input, const CallArgs& args) {
  if (name == "indent") {
    ArgReader reader(args, name, {"width", "first", "blank"});
    const Value width = reader.get_or(0, Value(int64_t{4}));
    std::string indentation;
    if (width.is_string()) {
      indentation = width.as_string();
    } else {
      const int64_t n = require_int_arg(width, name);
      check_string_size(static_cast<size_t>(std::max<int64_t>(0, n)));
      indentation = std::string(std::max<int64_t>(0, n), ' ');
    }
    return Value(indent_text(input.str(), indentation, reader.get_or(1, Value(false)).truthy(),
                             reader.get_or(2, Value(false)).truthy()));
  }
  if (name == "center") {
    ArgReader reader(args, name, {"width"});
    return Value(center(input.str(), require_int_arg(reader.get_or(0, Value(int64_t{80})), name)));
  }
  if (name == "wordcount") {
    // NOTE: a word is a run of letters, digits, '_' or non-ASCII characters, which
    // approximates Python's Unicode \w.
    int64_t count = 0;
    bool in_word = false;
    for (char32_t c : decode_utf8(input.str())) {
      const bool word_char = (c < 0x80 && (std::isalnum(static_cast<int>(c)) || c == '_')) ||
                             (c >= 0x80 && !is_python_whitespace(c));
      if (word_char && !in_word) ++count;
      in_word = word_char;
    }
    return Value(count);
  }
  if (name == "attr") {
    ArgReader reader(args, name, {"name"});
    return get_attribute(input, require_string_arg(reader.get(0), name));
  }
  return std::nullopt;
}

}  // namespace

Value apply_filter(const std::string& name, const Value& input, const CallArgs& args) {
  for (auto* group : {filter_text, filter_sequence_items, filter_number, filter_collection, filter_layout}) {
    if (std::optional<Value> result = group(name, input, args)) return std::move(*result);
  }
  throw InvalidArgument(fmt::format("chat template uses the filter '{}', which is not supported", name));
}

bool apply_test(const std::string& name, const Value& input, const CallArgs& args) {
  auto arg = [&](const char* test_name) -> const Value& {
    if (args.positional.empty()) {
      throw InvalidArgument(fmt::format("test '{}' requires an argument", test_name));
    }
    return args.positional[0];
  };
  if (name == "defined") return !input.is_undefined();
  if (name == "undefined") return input.is_undefined();
  if (name == "none") return input.is_none();
  if (name == "boolean") return input.is_bool();
  if (name == "false") return input.is_bool() && !input.as_bool();
  if (name == "true") return input.is_bool() && input.as_bool();
  if (name == "integer") return input.is_int();
  if (name == "float") return input.is_float();
  if (name == "number") return input.is_number();
  if (name == "string") return input.is_string();
  if (name == "mapping") return input.is_dict();
  if (name == "iterable" || name == "sequence") {
    if (input.is_iterator()) return name == "iterable";
    return input.is_undefined() || input.is_string() || input.is_list() || input.is_dict();
  }
  if (name == "callable") return input.is_callable();
  if (name == "escaped") return false;
  if (name == "sameas") return input.same_object(arg("sameas"));
  if (name == "in") return value_contains(arg("in"), input);
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(input, arg("eq"));
  if (name == "ne" || name == "!=") return !values_equal(input, arg("ne"));
  if (name == "lt" || name == "lessthan" || name == "<") return value_less(input, arg("lt"));
  if (name == "le" || name == "<=") return !value_less(arg("le"), input);
  if (name == "gt" || name == "greaterthan" || name == ">") return value_less(arg("gt"), input);
  if (name == "ge" || name == ">=") return !value_less(input, arg("ge"));
  if (name == "odd" || name == "even" || name == "divisibleby") {
    const Value divisor = name == "divisibleby" ? arg("divisibleby") : Value(int64_t{2});
    if (!input.is_number() || !divisor.is_number()) {
      throw InvalidArgument(fmt::format("unsupported operand type(s) for %: '{}' and '{}'",
                                        input.type_name(), divisor.type_name()));
    }
    double remainder;
    if (input.is_float() || divisor.is_float()) {
      if (divisor.as_double() == 0) throw InvalidArgument("float modulo");
      remainder = std::fmod(input.as_double(), divisor.as_double());
    } else {
      if (divisor.as_int() == 0) throw InvalidArgument("integer division or modulo by zero");
      remainder = static_cast<double>(input.as_int() % divisor.as_int());
    }
    if (name == "odd") return remainder != 0;
    return remainder == 0;
  }
  if (name == "lower" || name == "upper") {
    const std::string s = input.str();
    const bool want_lower = name == "lower";
    bool has_cased = false;
    for (char32_t c : decode_utf8(s)) {
      if (!is_cased_letter(c)) continue;
      has_cased = true;
      if (want_lower ? to_lower(c) != c : to_upper(c) != c) return false;
    }
    return has_cased;
  }
  throw InvalidArgument(fmt::format("chat template uses the test '{}', which is not supported", name));
}

}  // namespace vllm::jinja
