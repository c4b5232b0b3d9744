#include "tokenizer/chat_template/renderer.h"

#include <cmath>
#include <ctime>
#include <memory>
#include <unordered_map>

#include "core/errors.h"
#include "tokenizer/chat_template/builtins.h"
#include "tokenizer/chat_template/limits.h"
#include "tokenizer/chat_template/operators.h"
#include "tokenizer/chat_template/value_access.h"

namespace vllm::jinja {

namespace {

// Variables of one frame. A for-loop iteration, macro call and `with` block each get a
// child frame, so that their assignments do not leak out, as in jinja2; `if` shares its frame.
class Scope {
 public:
  explicit Scope(const Scope* parent) : parent_(parent) {}

  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent_) {
      const auto it = s->vars_.find(name);
      if (it != s->vars_.end()) return &it->second;
    }
    return nullptr;
  }
  void set(const std::string& name, Value value) { vars_[name] = std::move(value); }

  // A flag that turns false when this frame ends. Macros defined in the frame hold it, because
  // a macro stored in a namespace can outlive the frame whose variables it reads.
  std::shared_ptr<const bool> alive_flag() const {
    if (!alive_) alive_ = std::make_shared<bool>(true);
    return alive_;
  }
  ~Scope() {
    if (alive_) *alive_ = false;
  }

 private:
  const Scope* parent_;
  mutable std::shared_ptr<bool> alive_;
  std::unordered_map<std::string, Value> vars_;
};

enum class Flow { kNormal, kBreak, kContinue };

class Renderer {
 public:
  explicit Renderer(const ParsedTemplate& parsed) : parsed_(parsed), globals_(nullptr) {
    install_globals();
  }

  std::string run(const ValueDict& context) {
    Scope root(&globals_);
    for (const auto& [key, value] : context.entries()) root.set(key.str(), value);
    std::string out;
    exec_body(parsed_.body, root, out);
    return out;
  }

 private:
  void install_globals() {
    globals_.set("range", Value::callable("range", [this](const CallArgs& args) { return range(args); }));
    globals_.set("namespace", Value::callable("namespace", [](const CallArgs& args) {
      return Value::make_namespace(collect_attributes(args, "namespace", true));
    }));
    globals_.set("dict", Value::callable("dict", [](const CallArgs& args) {
      return Value::dict(collect_attributes(args, "dict", false));
    }));
    globals_.set("raise_exception", Value::callable("raise_exception", [](const CallArgs& args) -> Value {
      ArgReader reader(args, "raise_exception", {"message"});
      throw InvalidArgument(reader.get_or(0, Value("")).str());
    }));
    globals_.set("strftime_now", Value::callable("strftime_now", [](const CallArgs& args) {
      ArgReader reader(args, "strftime_now", {"format"});
      const std::string format = reader.get_or(0, Value("")).str();
      const std::time_t now = std::time(nullptr);
      std::tm local{};
      localtime_r(&now, &local);
      char buf[512];
      const size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &local);
      return Value(std::string(buf, n));
    }));
  }

  // namespace(...) and dict(...): an optional mapping, then keyword arguments.
  static ValueDict collect_attributes(const CallArgs& args, const char* function_name, bool check_names) {
    ValueDict out;
    if (args.positional.size() > 1) {
      throw InvalidArgument(fmt::format("{}() takes at most 1 positional argument", function_name));
    }
    if (!args.positional.empty()) {
      const Value& init = args.positional[0];
      if (!init.is_dict()) {
        throw InvalidArgument(fmt::format("{}() positional argument must be a mapping, not {}",
                                          function_name, init.type_name()));
      }
      for (const auto& [k, v] : init.as_dict().entries()) out.set(k, v);
    }
    for (const auto& [k, v] : args.keyword) out.set(Value(k), v);
    if (check_names) {
      for (const auto& [k, v] : out.entries()) check_namespace_name(k.str());
    }
    return out;
  }

  // HF's TemplateNamespace rejects underscore-prefixed names.
  static void check_namespace_name(const std::string& name) {
    if (!name.empty() && name[0] == '_') {
      throw InvalidArgument(fmt::format(
          "Chat templates cannot store underscore-prefixed attributes on a namespace, but got "
          "'{}'. Please rename the attribute.",
          name));
    }
  }

  Value range(const CallArgs& args) {
    if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
      throw InvalidArgument("range() takes 1 to 3 positional integer arguments");
    }
    std::vector<int64_t> bounds;
    for (const auto& v : args.positional) {
      if (!v.is_int() && !v.is_bool()) {
        throw InvalidArgument(fmt::format("'{}' object cannot be interpreted as an integer", v.type_name()));
      }
      bounds.push_back(v.as_int());
    }
    int64_t start = 0, stop = 0, step = 1;
    if (bounds.size() == 1) {
      stop = bounds[0];
    } else {
      start = bounds[0];
      stop = bounds[1];
      if (bounds.size() == 3) step = bounds[2];
    }
    if (step == 0) throw InvalidArgument("range() arg 3 must not be zero");
    const double count = std::ceil((static_cast<double>(stop) - static_cast<double>(start)) / step);
    if (count > static_cast<double>(kMaxLoopIterations)) {
      throw InvalidArgument(fmt::format("range() of {} items exceeds kMaxLoopIterations ({})", count,
                                        kMaxLoopIterations));
    }
    ValueList items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) items.emplace_back(i);
    return Value::list(std::move(items));
  }

  void emit(std::string& out, std::string_view text) {
    if (out.size() + text.size() > kMaxOutputBytes) {
      throw InvalidArgument(fmt::format("chat template output exceeds kMaxOutputBytes ({} bytes)",
                                        kMaxOutputBytes));
    }
    out += text;
  }

  void count_iteration() {
    if (++num_iterations_ > kMaxLoopIterations) {
      throw InvalidArgument(fmt::format("chat template loops exceed kMaxLoopIterations ({} iterations)",
                                        kMaxLoopIterations));
    }
  }

  Flow exec_body(const Body& body, Scope& scope, std::string& out) {
    for (const auto& stmt : body) {
      const Flow flow = exec(*stmt, scope, out);
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  Flow exec(const Stmt& s, Scope& scope, std::string& out) {
    switch (s.kind) {
      case StmtKind::kText:
        emit(out, s.text);
        return Flow::kNormal;
      case StmtKind::kOutput:
        emit(out, eval(*s.expr, scope).str());
        return Flow::kNormal;
      case StmtKind::kIf:
        for (const auto& [test, body] : s.branches) {
          if (eval(*test, scope).truthy()) return exec_body(body, scope, out);
        }
        return exec_body(s.else_body, scope, out);
      case StmtKind::kFor:
        exec_for(s, scope, out);
        return Flow::kNormal;
      case StmtKind::kSet:
        exec_set(s, scope);
        return Flow::kNormal;
      case StmtKind::kSetBlock: {
        std::string captured;
        exec_body(s.body, scope, captured);
        Value value(std::move(captured));
        if (s.filter) value = apply_filter_chain(*s.filter, value, scope);
        scope.set(s.targets[0], std::move(value));
        return Flow::kNormal;
      }
      case StmtKind::kMacro:
        scope.set(s.text, make_macro(s, scope));
        return Flow::kNormal;
      case StmtKind::kCallBlock:
        exec_call_block(s, scope, out);
        return Flow::kNormal;
      case StmtKind::kFilterBlock: {
        std::string captured;
        exec_body(s.body, scope, captured);
        emit(out, apply_filter_chain(*s.filter, Value(std::move(captured)), scope).str());
        return Flow::kNormal;
      }
      case StmtKind::kWith: {
        Scope inner(&scope);
        for (size_t i = 0; i < s.targets.size(); ++i) inner.set(s.targets[i], eval(*s.with_values[i], scope));
        return exec_body(s.body, inner, out);
      }
      case StmtKind::kBreak:
        return Flow::kBreak;
      case StmtKind::kContinue:
        return Flow::kContinue;
      case StmtKind::kGeneration:
        return exec_body(s.body, scope, out);
    }
    return Flow::kNormal;
  }

  static void bind_targets(const std::vector<std::string>& targets, const Value& value, Scope& scope) {
    if (targets.size() == 1) {
      scope.set(targets[0], value);
      return;
    }
    const ValueList items = iterate_value(value);
    if (items.size() != targets.size()) {
      if (items.size() > targets.size()) {
        throw InvalidArgument(fmt::format("too many values to unpack (expected {})", targets.size()));
      }
      throw InvalidArgument(fmt::format("not enough values to unpack (expected {}, got {})",
                                        targets.size(), items.size()));
    }
    for (size_t i = 0; i < targets.size(); ++i) scope.set(targets[i], items[i]);
  }

  void exec_for(const Stmt& s, Scope& scope, std::string& out) {
    const Value iterable = eval(*s.expr, scope);
    if (iterable.is_none() || iterable.is_number() || iterable.is_callable() || iterable.is_namespace()) {
      throw InvalidArgument(fmt::format("'{}' object is not iterable", iterable.type_name()));
    }
    ValueList items = iterate_value(iterable);
    if (s.condition) {
      ValueList kept;
      for (auto& item : items) {
        count_iteration();
        Scope probe(&scope);
        bind_targets(s.targets, item, probe);
        if (eval(*s.condition, probe).truthy()) kept.push_back(std::move(item));
      }
      items = std::move(kept);
    }
    if (items.empty()) {
      exec_body(s.else_body, scope, out);
      return;
    }
    const int64_t length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      count_iteration();
      Scope iteration(&scope);
      bind_targets(s.targets, items[i], iteration);
      if (s.uses_loop_variable) iteration.set("loop", make_loop_value(items, i));
      const Flow flow = exec_body(s.body, iteration, out);
      if (flow == Flow::kBreak) break;
    }
  }

  static Value make_loop_value(const ValueList& items, int64_t i) {
    const int64_t length = static_cast<int64_t>(items.size());
    ValueDict loop;
    loop.set(Value("index"), Value(i + 1));
    loop.set(Value("index0"), Value(i));
    loop.set(Value("revindex"), Value(length - i));
    loop.set(Value("revindex0"), Value(length - i - 1));
    loop.set(Value("first"), Value(i == 0));
    loop.set(Value("last"), Value(i == length - 1));
    loop.set(Value("length"), Value(length));
    loop.set(Value("depth"), Value(int64_t{1}));
    loop.set(Value("depth0"), Value(int64_t{0}));
    if (i > 0) loop.set(Value("previtem"), items[i - 1]);
    if (i + 1 < length) loop.set(Value("nextitem"), items[i + 1]);
    loop.set(Value("cycle"), Value::callable("loop.cycle", [i](const CallArgs& args) {
      if (args.positional.empty()) throw InvalidArgument("no items for cycling given");
      return args.positional[static_cast<size_t>(i) % args.positional.size()];
    }));
    return Value::dict(std::move(loop));
  }

  void exec_set(const Stmt& s, Scope& scope) {
    Value value = eval(*s.expr, scope);
    if (s.target_attribute.empty()) {
      bind_targets(s.targets, value, scope);
      return;
    }
    const Value* target = scope.find(s.targets[0]);
    if (target == nullptr || !target->is_namespace()) {
      throw InvalidArgument(
          fmt::format("cannot assign attribute on non-namespace object '{}'", s.targets[0]));
    }
    check_namespace_name(s.target_attribute);
    check_namespace_attribute(value);
    target->namespace_attributes().set(Value(s.target_attribute), std::move(value));
  }

  class DepthGuard {
   public:
    explicit DepthGuard(int& depth) : depth_(depth) {
      if (++depth_ > kMaxRecursionDepth) {
        --depth_;
        throw InvalidArgument(fmt::format("chat template macro calls nest deeper than kMaxRecursionDepth ({})",
                                          kMaxRecursionDepth));
      }
    }
    ~DepthGuard() { --depth_; }

   private:
    int& depth_;
  };

  // A macro reads the variables of the frame that defined it, looked up at call time.
  Value make_macro(const Stmt& s, const Scope& defining_scope) {
    return Value::callable(s.text, [this, &s, &defining_scope, alive = defining_scope.alive_flag()](
                                       const CallArgs& args) {
      if (!*alive) {
        throw InvalidArgument(fmt::format(
            "macro '{}' was called after the block that defined it ended, which is not supported", s.text));
      }
      DepthGuard guard(call_depth_);
      Scope frame(&defining_scope);
      if (args.positional.size() > s.params.size()) {
        throw InvalidArgument(fmt::format("macro '{}' takes not more than {} argument(s)", s.text,
                                          s.params.size()));
      }
      std::vector<bool> bound(s.params.size(), false);
      for (size_t i = 0; i < args.positional.size(); ++i) {
        frame.set(s.params[i], args.positional[i]);
        bound[i] = true;
      }
      for (const auto& [key, value] : args.keyword) {
        const auto it = std::find(s.params.begin(), s.params.end(), key);
        if (it == s.params.end()) {
          if (key == "caller") {
            frame.set("caller", value);
            continue;
          }
          throw InvalidArgument(fmt::format("macro '{}' takes no keyword argument '{}'", s.text, key));
        }
        frame.set(key, value);
        bound[it - s.params.begin()] = true;
      }
      for (size_t i = 0; i < s.params.size(); ++i) {
        if (bound[i]) continue;
        frame.set(s.params[i], s.defaults[i] ? eval(*s.defaults[i], frame)
                                             : Value::undefined(fmt::format("parameter '{}' was not provided", s.params[i])));
      }
      std::string out;
      exec_body(s.body, frame, out);
      return Value(std::move(out));
    });
  }

  void exec_call_block(const Stmt& s, Scope& scope, std::string& out) {
    // `caller` refers to `scope`, which outlives the call below.
    Value caller = Value::callable("caller", [this, &s, &scope, alive = scope.alive_flag()](const CallArgs& args) {
      if (!*alive) throw InvalidArgument("caller() was called after its call block ended, which is not supported");
      DepthGuard guard(call_depth_);
      Scope frame(&scope);
      if (args.positional.size() > s.params.size()) {
        throw InvalidArgument(fmt::format("caller takes not more than {} argument(s)", s.params.size()));
      }
      for (size_t i = 0; i < s.params.size(); ++i) {
        if (i < args.positional.size()) {
          frame.set(s.params[i], args.positional[i]);
        } else {
          frame.set(s.params[i], s.defaults[i] ? eval(*s.defaults[i], frame) : Value::undefined(
                                     fmt::format("parameter '{}' was not provided", s.params[i])));
        }
      }
      for (const auto& [key, value] : args.keyword) frame.set(key, value);
      std::string body;
      exec_body(s.body, frame, body);
      return Value(std::move(body));
    });
    const Expr& call = *s.expr;
    const Value callee = eval(*call.children[0], scope);
    CallArgs args = eval_args(call, scope);
    args.keyword.emplace_back("caller", caller);
    emit(out, invoke(callee, args).str());
  }

  CallArgs eval_args(const Expr& e, Scope& scope) {
    CallArgs args;
    for (size_t i = 1; i < e.children.size(); ++i) args.positional.push_back(eval(*e.children[i], scope));
    for (const auto& [key, value] : e.keyword_args) args.keyword.emplace_back(key, eval(*value, scope));
    return args;
  }

  static Value invoke(const Value& callee, const CallArgs& args) {
    if (callee.is_undefined()) raise_undefined(callee);
    if (!callee.is_callable()) {
      throw InvalidArgument(fmt::format("'{}' object is not callable", callee.type_name()));
    }
    return callee.function()(args);
  }

  // Applies a filter chain whose innermost input slot is empty to `input`.
  Value apply_filter_chain(const Expr& filter, const Value& input, Scope& scope) {
    const Value inner = filter.children[0] ? apply_filter_chain(*filter.children[0], input, scope) : input;
    return apply_filter(filter.name, inner, eval_args(filter, scope));
  }

  Value eval(const Expr& e, Scope& scope) {
    switch (e.kind) {
      case ExprKind::kLiteral:
        return e.literal;
      case ExprKind::kName: {
        if (const Value* v = scope.find(e.name)) return *v;
        return Value::undefined(fmt::format("'{}' is undefined", e.name));
      }
      case ExprKind::kList:
      case ExprKind::kTuple: {
        ValueList items;
        for (const auto& child : e.children) items.push_back(eval(*child, scope));
        return Value::list(std::move(items), e.kind == ExprKind::kTuple);
      }
      case ExprKind::kDict: {
        ValueDict dict;
        for (size_t i = 0; i + 1 < e.children.size(); i += 2) {
          dict.set(eval(*e.children[i], scope), eval(*e.children[i + 1], scope));
        }
        return Value::dict(std::move(dict));
      }
      case ExprKind::kGetAttr:
        return get_attribute(eval(*e.children[0], scope), e.name);
      case ExprKind::kGetItem:
        return get_item(eval(*e.children[0], scope), eval(*e.children[1], scope));
      case ExprKind::kSlice: {
        const Value object = eval(*e.children[0], scope);
        Value parts[3];
        for (int i = 0; i < 3; ++i) {
          if (e.children[i + 1]) parts[i] = eval(*e.children[i + 1], scope);
        }
        return get_slice(object, e.children[1] ? &parts[0] : nullptr, e.children[2] ? &parts[1] : nullptr,
                         e.children[3] ? &parts[2] : nullptr);
      }
      case ExprKind::kCall: {
        const Value callee = eval(*e.children[0], scope);
        return invoke(callee, eval_args(e, scope));
      }
      case ExprKind::kFilter: {
        const Value input = eval(*e.children[0], scope);
        return apply_filter(e.name, input, eval_args(e, scope));
      }
      case ExprKind::kTest: {
        const Value input = eval(*e.children[0], scope);
        const bool result = apply_test(e.name, input, eval_args(e, scope));
        return Value(result != e.negated);
      }
      case ExprKind::kUnary:
        return unary_operation(e.name, eval(*e.children[0], scope));
      case ExprKind::kBinary: {
        const Value left = eval(*e.children[0], scope);
        return binary_operation(e.name, left, eval(*e.children[1], scope));
      }
      case ExprKind::kAnd: {
        Value left = eval(*e.children[0], scope);
        return left.truthy() ? eval(*e.children[1], scope) : left;
      }
      case ExprKind::kOr: {
        Value left = eval(*e.children[0], scope);
        return left.truthy() ? left : eval(*e.children[1], scope);
      }
      case ExprKind::kCompare: {
        Value left = eval(*e.children[0], scope);
        for (size_t i = 0; i < e.compare_ops.size(); ++i) {
          Value right = eval(*e.children[i + 1], scope);
          if (!compare_operation(e.compare_ops[i], left, right)) return Value(false);
          left = std::move(right);
        }
        return Value(true);
      }
      case ExprKind::kCondition:
        if (eval(*e.children[0], scope).truthy()) return eval(*e.children[1], scope);
        if (e.children[2]) return eval(*e.children[2], scope);
        return Value::undefined("the inline if-expression evaluated to false and no else section was defined.");
    }
    return Value();
  }

  const ParsedTemplate& parsed_;
  Scope globals_;
  int64_t num_iterations_ = 0;
  int call_depth_ = 0;
};

}  // namespace

std::string render_template(const ParsedTemplate& parsed, const ValueDict& context) {
  return Renderer(parsed).run(context);
}

}  // namespace vllm::jinja
