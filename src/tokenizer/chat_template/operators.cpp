#include "tokenizer/chat_template/operators.h"

#include <cmath>

#include "core/errors.h"
#include "tokenizer/chat_template/builtins.h"

namespace vllm::jinja {

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  throw InvalidArgument(fmt::format("unsupported operand type(s) for {}: '{}' and '{}'", op,
                                    a.type_name(), b.type_name()));
}

int64_t checked(bool overflowed, int64_t value) {
  if (overflowed) throw InvalidArgument("integer overflow: the result exceeds the int64 range");
  return value;
}

Value repeat(const Value& sequence, int64_t times) {
  times = std::max<int64_t>(times, 0);
  // An empty operand gives an empty result without looping `times` times.
  if (sequence.is_string() && sequence.as_string().empty()) return sequence;
  if (sequence.is_list() && sequence.as_list().empty()) return sequence;
  if (sequence.is_string()) {
    const std::string& s = sequence.as_string();
    check_string_size(static_cast<size_t>(s.size() * static_cast<double>(times)));
    std::string out;
    out.reserve(s.size() * times);
    for (int64_t i = 0; i < times; ++i) out += s;
    return Value(std::move(out));
  }
  const ValueList& items = sequence.as_list();
  check_list_size(static_cast<size_t>(items.size() * static_cast<double>(times)));
  ValueList out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::list(std::move(out), sequence.is_tuple());
}

// printf-style `"%s" % args`.
// NOTE: only %s, %r, %d, %i, %f and %% without flags or widths are supported.
std::string percent_format(const std::string& format, const Value& args) {
  ValueList items = args.is_tuple() ? args.as_list() : ValueList{args};
  size_t next = 0;
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') {
      out += format[i];
      continue;
    }
    if (i + 1 >= format.size()) throw InvalidArgument("incomplete format");
    const char spec = format[++i];
    if (spec == '%') {
      out += '%';
      continue;
    }
    if (next >= items.size()) throw InvalidArgument("not enough arguments for format string");
    const Value& v = items[next++];
    switch (spec) {
      case 's':
        out += v.str();
        break;
      case 'r':
        out += v.repr();
        break;
      case 'd':
      case 'i':
        if (!v.is_number()) throw InvalidArgument(fmt::format("%{} format: a real number is required, not {}", spec, v.type_name()));
        out += std::to_string(v.is_float() ? static_cast<int64_t>(v.as_double()) : v.as_int());
        break;
      case 'f':
        if (!v.is_number()) throw InvalidArgument(fmt::format("must be real number, not {}", v.type_name()));
        out += fmt::format("{:.6f}", v.as_double());
        break;
      default:
        throw InvalidArgument(fmt::format("chat template uses the format '%{}', which is not supported", spec));
    }
    check_string_size(out.size());
  }
  if (next < items.size()) throw InvalidArgument("not all arguments converted during string formatting");
  return out;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  const bool use_float = a.is_float() || b.is_float();
  const double x = a.as_double();
  const double y = b.as_double();
  const int64_t i = a.as_int();
  const int64_t j = b.as_int();
  int64_t r = 0;
  if (op == "+" || op == "-" || op == "*") {
    if (use_float) return Value(op == "+" ? x + y : (op == "-" ? x - y : x * y));
    const bool overflowed = op == "+"   ? __builtin_add_overflow(i, j, &r)
                            : op == "-" ? __builtin_sub_overflow(i, j, &r)
                                        : __builtin_mul_overflow(i, j, &r);
    return Value(checked(overflowed, r));
  }
  if (op == "/") {
    if (y == 0) throw InvalidArgument("division by zero");
    return Value(x / y);
  }
  if (op == "//" || op == "%") {
    if (use_float) {
      if (y == 0) throw InvalidArgument(op == "//" ? "float floor division by zero" : "float modulo");
      double mod = std::fmod(x, y);
      if (mod != 0 && ((y < 0) != (mod < 0))) mod += y;
      if (op == "%") return Value(mod);
      // CPython's float_floor_div: round the exact quotient of (x - mod) / y.
      const double quotient = (x - mod) / y;
      if (quotient == 0) return Value(std::copysign(0.0, x / y));
      double floored = std::floor(quotient);
      if (quotient - floored > 0.5) floored += 1.0;
      return Value(floored);
    }
    if (j == 0) throw InvalidArgument(op == "//" ? "integer division or modulo by zero" : "integer modulo by zero");
    if (i == INT64_MIN && j == -1) checked(true, 0);
    int64_t quotient = i / j;
    int64_t mod = i % j;
    if (mod != 0 && ((j < 0) != (mod < 0))) {
      mod += j;
      --quotient;
    }
    return op == "%" ? Value(mod) : Value(quotient);
  }
  if (op == "**") {
    if (!use_float && j >= 0) {
      int64_t result = 1;
      int64_t base = i;
      int64_t exponent = j;
      while (exponent > 0) {
        if (exponent & 1) checked(__builtin_mul_overflow(result, base, &result), 0);
        exponent >>= 1;
        if (exponent > 0) checked(__builtin_mul_overflow(base, base, &base), 0);
      }
      return Value(result);
    }
    if (x == 0 && y < 0) throw InvalidArgument("0.0 cannot be raised to a negative power");
    return Value(std::pow(x, y));
  }
  unsupported(op, a, b);
}

}  // namespace

Value unary_operation(const std::string& op, const Value& operand) {
  if (op == "not") return Value(!operand.truthy());
  if (operand.is_undefined()) raise_undefined(operand);
  if (!operand.is_number()) {
    throw InvalidArgument(fmt::format("bad operand type for unary {}: '{}'", op, operand.type_name()));
  }
  if (op == "+") return operand.is_float() ? Value(operand.as_double()) : Value(operand.as_int());
  if (operand.is_float()) return Value(-operand.as_double());
  int64_t r = 0;
  const bool overflowed = __builtin_sub_overflow(int64_t{0}, operand.as_int(), &r);
  return Value(checked(overflowed, r));
}

Value binary_operation(const std::string& op, const Value& left, const Value& right) {
  if (op == "~") {
    std::string out = left.str() + right.str();
    check_string_size(out.size());
    return Value(std::move(out));
  }
  if (left.is_undefined()) raise_undefined(left);
  if (right.is_undefined()) raise_undefined(right);
  if (left.is_number() && right.is_number()) return arithmetic(op, left, right);
  if (op == "+") {
    if (left.is_string() && right.is_string()) {
      check_string_size(left.as_string().size() + right.as_string().size());
      return Value(left.as_string() + right.as_string());
    }
    if (left.is_list() && right.is_list() && left.is_tuple() == right.is_tuple()) {
      check_list_size(left.as_list().size() + right.as_list().size());
      ValueList items = left.as_list();
      items.insert(items.end(), right.as_list().begin(), right.as_list().end());
      return Value::list(std::move(items), left.is_tuple());
    }
    if (left.is_string() || left.is_list()) {
      throw InvalidArgument(fmt::format("can only concatenate {} (not \"{}\") to {}", left.type_name(),
                                        right.type_name(), left.type_name()));
    }
  }
  if (op == "*") {
    if ((left.is_string() || left.is_list()) && (right.is_int() || right.is_bool())) return repeat(left, right.as_int());
    if ((right.is_string() || right.is_list()) && (left.is_int() || left.is_bool())) return repeat(right, left.as_int());
  }
  if (op == "%" && left.is_string()) return Value(percent_format(left.as_string(), right));
  unsupported(op, left, right);
}

bool compare_operation(const std::string& op, const Value& left, const Value& right) {
  if (op == "==") return values_equal(left, right);
  if (op == "!=") return !values_equal(left, right);
  if (op == "<") return value_less(left, right);
  if (op == ">") return value_less(right, left);
  if (op == "<=") return value_less(left, right) || values_equal(left, right);
  if (op == ">=") return value_less(right, left) || values_equal(left, right);
  if (op == "in") return value_contains(right, left);
  if (op == "notin") return !value_contains(right, left);
  throw InvalidArgument(fmt::format("unknown comparison operator '{}'", op));
}

}  // namespace vllm::jinja
