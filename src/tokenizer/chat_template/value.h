// The value type of the Jinja evaluator. It mirrors the Python objects that jinja2 handles in
// chat templates: Undefined, None, bool, int, float, str, list/tuple, dict (insertion ordered),
// namespace and callables. Lists and dicts are immutable once built, as in jinja2's
// ImmutableSandboxedEnvironment, so copies share storage. A namespace is the one mutable object.
#pragma once

#include <cstdint>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace vllm::jinja {

class Value;
struct CallArgs;

using ValueList = std::vector<Value>;
using Function = std::function<Value(const CallArgs&)>;

// Keys keep insertion order, as Python dicts do. Lookup is linear, because template dicts
// (messages, tool schemas) are small.
class ValueDict {
 public:
  const Value* find(const Value& key) const;
  const Value* find(const std::string& key) const;
  // Inserts the key at the end, or replaces its value in place when it exists.
  void set(const Value& key, Value value);
  size_t size() const;  // defined after Value, which must be complete first (clang)
  const std::vector<std::pair<Value, Value>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<Value, Value>> entries_;
};

enum class ValueKind {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kDict,
  kNamespace,
  kCallable,
  // A one-pass iterator, as jinja2's map/select/unique/items filters return generators:
  // always true, no len(), not subscriptable, and empty once iterated.
  kIterator,
};

class Value {
 public:
  Value() = default;  // Undefined
  static Value undefined(std::string hint = {});
  static Value none();
  Value(bool b);
  Value(int64_t i);
  Value(int i) : Value(static_cast<int64_t>(i)) {}
  Value(double d);
  Value(std::string s);
  Value(const char* s) : Value(std::string(s)) {}
  static Value list(ValueList items, bool is_tuple = false);
  static Value dict(ValueDict entries);
  static Value make_namespace(ValueDict attributes);
  static Value callable(std::string name, Function fn);
  // `type_name` is Python's name of the iterator type, e.g. "generator".
  static Value iterator(ValueList items, std::string type_name);
  static Value from_json(const nlohmann::ordered_json& j, int depth = 0);

  ValueKind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == ValueKind::kUndefined; }
  bool is_none() const { return kind_ == ValueKind::kNone; }
  bool is_bool() const { return kind_ == ValueKind::kBool; }
  bool is_int() const { return kind_ == ValueKind::kInt; }
  bool is_float() const { return kind_ == ValueKind::kFloat; }
  // Python's numbers.Number: bool counts, as bool is a subclass of int.
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_string() const { return kind_ == ValueKind::kString; }
  bool is_list() const { return kind_ == ValueKind::kList; }
  bool is_tuple() const { return is_list() && is_tuple_; }
  bool is_dict() const { return kind_ == ValueKind::kDict; }
  bool is_namespace() const { return kind_ == ValueKind::kNamespace; }
  bool is_callable() const { return kind_ == ValueKind::kCallable; }
  bool is_iterator() const { return kind_ == ValueKind::kIterator; }

  bool as_bool() const { return bool_; }
  int64_t as_int() const { return int_; }  // also valid for bool
  double as_double() const;                 // for any number
  const std::string& as_string() const { return *string_; }
  const ValueList& as_list() const { return *list_; }
  const ValueDict& as_dict() const { return *dict_; }
  ValueDict& namespace_attributes() const { return *dict_; }
  const Function& function() const { return *function_; }
  // Takes the iterator's items not yet consumed; `max_items` bounds how many it consumes.
  ValueList consume(size_t max_items = SIZE_MAX) const;
  // The callable's name, or for Undefined the message that using it raises.
  const std::string& name() const;

  // Python truthiness.
  bool truthy() const;
  // Python str(); Undefined prints as the empty string, as jinja2's default Undefined does.
  std::string str() const;
  // Python repr(), used for items inside printed lists and dicts.
  std::string repr() const;
  // Python's type name, as TypeError messages show it.
  std::string type_name() const;
  // The identity used by the `sameas` test: same object for containers, same value otherwise.
  bool same_object(const Value& other) const;
  // Nesting depth: 0 for scalars, 1 + the deepest item for containers.
  int depth() const;
  // Whether this is a namespace or a container holding one.
  bool contains_namespace() const { return contains_namespace_; }

 private:
  ValueKind kind_ = ValueKind::kUndefined;
  bool bool_ = false;
  bool is_tuple_ = false;
  bool contains_namespace_ = false;
  int depth_ = 0;  // lists and dicts; a namespace computes its depth, as it is mutable
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> string_;
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<const Function> function_;
  std::shared_ptr<size_t> cursor_;  // kIterator: index of the next item in list_
};

inline size_t ValueDict::size() const { return entries_.size(); }

// Arguments of a call, filter or test: positional values then keyword values.
struct CallArgs {
  ValueList positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Python ==, with 1 == 1.0 == True and deep comparison of containers.
bool values_equal(const Value& a, const Value& b);
// Python <; raises InvalidArgument for types that do not order (as TypeError does).
bool value_less(const Value& a, const Value& b);

// Python's float repr: shortest round-trip digits, "1.0", "1e+16", "inf", "nan".
std::string format_python_float(double d);

// Options of json.dumps as HF's `tojson` filter passes them (ensure_ascii=False by default).
struct JsonDumpOptions {
  bool ensure_ascii = false;
  bool has_indent = false;
  std::string indent;  // the per-level indent string when has_indent
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
};
// Python json.dumps of a value; raises InvalidArgument for values JSON cannot hold.
std::string json_dumps(const Value& value, const JsonDumpOptions& options);

// Raises InvalidArgument naming kMaxRecursionDepth when a value nested `depth` deep is too deep.
// Bounding the depth keeps recursive printing, comparison and destruction off the stack limit.
void check_value_depth(int depth);
// Raises InvalidArgument when `value` would nest a namespace inside a namespace. Forbidding that
// rules out cycles and unbounded chains built by mutating namespaces in a loop.
void check_namespace_attribute(const Value& value);

// Raises InvalidArgument with the message jinja2's UndefinedError would carry.
[[noreturn]] void raise_undefined(const Value& undefined);

}  // namespace vllm::jinja
