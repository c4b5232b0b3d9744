#include "tokenizer/chat_template/parser.h"

#include <set>

#include <fmt/ranges.h>

#include "core/errors.h"
#include "tokenizer/chat_template/limits.h"

namespace vllm::jinja {

namespace {

ExprPtr make_expr(ExprKind kind, size_t offset) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->offset = offset;
  return e;
}

StmtPtr make_stmt(StmtKind kind, size_t offset) {
  auto s = std::make_unique<Stmt>();
  s->kind = kind;
  s->offset = offset;
  return s;
}

class Parser {
 public:
  explicit Parser(LexedTemplate lexed) : lexed_(std::move(lexed)) {}

  ParsedTemplate run() {
    ParsedTemplate result;
    std::string end_tag;
    result.body = parse_body({}, end_tag);
    result.source = std::move(lexed_.source);
    return result;
  }

 private:
  // Counts nesting on the C++ stack; each guard is one level.
  class DepthGuard {
   public:
    DepthGuard(Parser& parser) : parser_(parser) {
      if (++parser_.depth_ > kMaxRecursionDepth) {
        parser_.fail(fmt::format("nesting exceeds kMaxRecursionDepth ({})", kMaxRecursionDepth));
      }
    }
    ~DepthGuard() { --parser_.depth_; }

   private:
    Parser& parser_;
  };

  const Token& current() const { return lexed_.tokens[pos_]; }
  const Token& peek(size_t ahead = 1) const {
    return lexed_.tokens[std::min(pos_ + ahead, lexed_.tokens.size() - 1)];
  }
  Token next() { return lexed_.tokens[pos_ < lexed_.tokens.size() - 1 ? pos_++ : pos_]; }

  [[noreturn]] void fail(const std::string& message) const { fail_at(message, current().offset); }
  [[noreturn]] void fail_at(const std::string& message, size_t offset) const {
    throw InvalidArgument(fmt::format("chat template syntax error at {}: {}",
                                      describe_location(lexed_.source, offset), message));
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kText:
        return "template data";
      case TokenType::kVariableBegin:
        return "'{{'";
      case TokenType::kVariableEnd:
        return "'}}'";
      case TokenType::kBlockBegin:
        return "'{%'";
      case TokenType::kBlockEnd:
        return "'%}'";
      case TokenType::kEnd:
        return "end of template";
      case TokenType::kString:
        return "string literal";
      default:
        return "'" + t.text + "'";
    }
  }

  bool is_operator(const char* op) const {
    return current().type == TokenType::kOperator && current().text == op;
  }
  bool is_name(const char* name) const {
    return current().type == TokenType::kName && current().text == name;
  }
  bool skip_operator(const char* op) {
    if (!is_operator(op)) return false;
    ++pos_;
    return true;
  }
  bool skip_name(const char* name) {
    if (!is_name(name)) return false;
    ++pos_;
    return true;
  }
  void expect_operator(const char* op) {
    if (!skip_operator(op)) fail(fmt::format("expected '{}', got {}", op, describe(current())));
  }
  std::string expect_name() {
    if (current().type != TokenType::kName) fail(fmt::format("expected a name, got {}", describe(current())));
    return next().text;
  }
  void expect_block_end() {
    if (current().type != TokenType::kBlockEnd) {
      fail(fmt::format("expected end of statement block, got {}", describe(current())));
    }
    ++pos_;
  }

  // Parses statements until a `{% name %}` tag whose name is in `end_names`; consumes
  // `{%` and the name, and stores the name in `end_tag`.
  Body parse_body(const std::set<std::string>& end_names, std::string& end_tag) {
    DepthGuard guard(*this);
    Body body;
    while (true) {
      const Token& t = current();
      switch (t.type) {
        case TokenType::kEnd:
          if (!end_names.empty()) {
            fail(fmt::format("unexpected end of template, expected one of: {}",
                             fmt::join(end_names, ", ")));
          }
          return body;
        case TokenType::kText: {
          auto s = make_stmt(StmtKind::kText, t.offset);
          s->text = t.text;
          body.push_back(std::move(s));
          ++pos_;
          break;
        }
        case TokenType::kVariableBegin: {
          auto s = make_stmt(StmtKind::kOutput, t.offset);
          ++pos_;
          s->expr = parse_tuple(true);
          if (current().type != TokenType::kVariableEnd) {
            fail(fmt::format("expected end of print statement, got {}", describe(current())));
          }
          ++pos_;
          body.push_back(std::move(s));
          break;
        }
        case TokenType::kBlockBegin: {
          const Token& name = peek();
          if (name.type != TokenType::kName) fail_at("tag name expected", name.offset);
          if (end_names.count(name.text)) {
            pos_ += 2;
            end_tag = name.text;
            return body;
          }
          ++pos_;
          body.push_back(parse_statement());
          break;
        }
        default:
          fail(fmt::format("unexpected {}", describe(t)));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token tag = next();
    const std::string& name = tag.text;
    if (name == "if") return parse_if(tag.offset);
    if (name == "for") return parse_for(tag.offset);
    if (name == "set") return parse_set(tag.offset);
    if (name == "macro") return parse_macro(tag.offset);
    if (name == "call") return parse_call_block(tag.offset);
    if (name == "filter") return parse_filter_block(tag.offset);
    if (name == "with") return parse_with(tag.offset);
    if (name == "generation") {
      auto s = make_stmt(StmtKind::kGeneration, tag.offset);
      expect_block_end();
      s->body = parse_block_body({"endgeneration"});
      return s;
    }
    if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail_at(fmt::format("'{}' outside of a loop", name), tag.offset);
      auto s = make_stmt(name == "break" ? StmtKind::kBreak : StmtKind::kContinue, tag.offset);
      expect_block_end();
      return s;
    }
    fail_at(fmt::format("encountered unknown tag '{}'", name), tag.offset);
  }

  // Parses a body that must end with one of `end_names` and then the closing `%}`.
  Body parse_block_body(const std::set<std::string>& end_names) {
    std::string end_tag;
    Body body = parse_body(end_names, end_tag);
    expect_block_end();
    return body;
  }

  StmtPtr parse_if(size_t offset) {
    auto s = make_stmt(StmtKind::kIf, offset);
    while (true) {
      ExprPtr test = parse_tuple(false);
      expect_block_end();
      std::string end_tag;
      Body body = parse_body({"elif", "else", "endif"}, end_tag);
      s->branches.emplace_back(std::move(test), std::move(body));
      if (end_tag == "elif") continue;
      if (end_tag == "else") {
        expect_block_end();
        s->else_body = parse_block_body({"endif"});
      } else {
        expect_block_end();
      }
      return s;
    }
  }

  std::vector<std::string> parse_assign_names() {
    std::vector<std::string> names;
    const bool parenthesized = skip_operator("(");
    do {
      if (parenthesized && is_operator(")")) break;
      names.push_back(expect_name());
    } while (skip_operator(","));
    if (parenthesized) expect_operator(")");
    return names;
  }

  StmtPtr parse_for(size_t offset) {
    auto s = make_stmt(StmtKind::kFor, offset);
    s->targets = parse_assign_names();
    if (!skip_name("in")) fail(fmt::format("expected 'in', got {}", describe(current())));
    s->expr = parse_tuple(false);
    if (skip_name("if")) s->condition = parse_expression(true);
    if (is_name("recursive")) fail("recursive loops are not supported");
    expect_block_end();
    ++loop_depth_;
    const int64_t loop_references_before = num_loop_references_;
    std::string end_tag;
    s->body = parse_body({"else", "endfor"}, end_tag);
    s->uses_loop_variable = num_loop_references_ != loop_references_before;
    --loop_depth_;
    expect_block_end();
    if (end_tag == "else") s->else_body = parse_block_body({"endfor"});
    return s;
  }

  StmtPtr parse_set(size_t offset) {
    if (current().type == TokenType::kName && peek().type == TokenType::kOperator &&
        peek().text == ".") {
      auto s = make_stmt(StmtKind::kSet, offset);
      s->targets.push_back(next().text);
      ++pos_;
      s->target_attribute = expect_name();
      expect_operator("=");
      s->expr = parse_tuple(true);
      expect_block_end();
      return s;
    }
    std::vector<std::string> names = parse_assign_names();
    if (skip_operator("=")) {
      auto s = make_stmt(StmtKind::kSet, offset);
      s->targets = std::move(names);
      s->expr = parse_tuple(true);
      expect_block_end();
      return s;
    }
    if (names.size() != 1) fail("a block assignment takes a single name");
    auto s = make_stmt(StmtKind::kSetBlock, offset);
    s->targets = std::move(names);
    if (is_operator("|")) s->filter = parse_filter_chain(nullptr);
    expect_block_end();
    s->body = parse_block_body({"endset"});
    return s;
  }

  void parse_params(Stmt& s) {
    expect_operator("(");
    while (!is_operator(")")) {
      if (!s.params.empty()) expect_operator(",");
      if (is_operator(")")) break;
      s.params.push_back(expect_name());
      s.defaults.push_back(skip_operator("=") ? parse_expression(true) : nullptr);
    }
    expect_operator(")");
  }

  StmtPtr parse_macro(size_t offset) {
    auto s = make_stmt(StmtKind::kMacro, offset);
    s->text = expect_name();
    parse_params(*s);
    expect_block_end();
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    s->body = parse_block_body({"endmacro"});
    loop_depth_ = saved_loop_depth;
    return s;
  }

  StmtPtr parse_call_block(size_t offset) {
    auto s = make_stmt(StmtKind::kCallBlock, offset);
    if (is_operator("(")) parse_params(*s);
    s->expr = parse_expression(true);
    if (s->expr->kind != ExprKind::kCall) fail_at("expected a call", s->expr->offset);
    expect_block_end();
    s->body = parse_block_body({"endcall"});
    return s;
  }

  StmtPtr parse_filter_block(size_t offset) {
    auto s = make_stmt(StmtKind::kFilterBlock, offset);
    s->filter = parse_filter_chain(nullptr, /*leading_pipe=*/false);
    expect_block_end();
    s->body = parse_block_body({"endfilter"});
    return s;
  }

  StmtPtr parse_with(size_t offset) {
    auto s = make_stmt(StmtKind::kWith, offset);
    while (current().type != TokenType::kBlockEnd) {
      if (!s->targets.empty()) expect_operator(",");
      s->targets.push_back(expect_name());
      expect_operator("=");
      s->with_values.push_back(parse_expression(true));
    }
    expect_block_end();
    s->body = parse_block_body({"endwith"});
    return s;
  }

  // Expressions, from lowest to highest precedence as in jinja2's parser.

  // A comma-separated list becomes a tuple; a single expression stays itself.
  ExprPtr parse_tuple(bool with_condition) {
    const size_t offset = current().offset;
    std::vector<ExprPtr> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) {
        if (!skip_operator(",")) break;
        is_tuple = true;
        if (at_expression_end()) break;
      }
      items.push_back(parse_expression(with_condition));
    }
    if (!is_tuple) return std::move(items[0]);
    auto e = make_expr(ExprKind::kTuple, offset);
    e->children = std::move(items);
    return e;
  }

  bool at_expression_end() const {
    const Token& t = current();
    return t.type == TokenType::kVariableEnd || t.type == TokenType::kBlockEnd ||
           (t.type == TokenType::kOperator && (t.text == ")" || t.text == "]" || t.text == "}")) ||
           (t.type == TokenType::kName && (t.text == "if" || t.text == "in"));
  }

  ExprPtr parse_expression(bool with_condition) {
    DepthGuard guard(*this);
    if (!with_condition) return parse_or();
    ExprPtr expr = parse_or();
    while (is_name("if")) {
      const size_t offset = next().offset;
      auto e = make_expr(ExprKind::kCondition, offset);
      e->children.push_back(parse_or());
      e->children.push_back(std::move(expr));
      e->children.push_back(skip_name("else") ? parse_expression(true) : nullptr);
      expr = std::move(e);
    }
    return expr;
  }

  ExprPtr binary(ExprKind kind, std::string op, ExprPtr left, ExprPtr right, size_t offset) {
    auto e = make_expr(kind, offset);
    e->name = std::move(op);
    e->children.push_back(std::move(left));
    e->children.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const size_t offset = next().offset;
      left = binary(ExprKind::kOr, "or", std::move(left), parse_and(), offset);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const size_t offset = next().offset;
      left = binary(ExprKind::kAnd, "and", std::move(left), parse_not(), offset);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      const size_t offset = next().offset;
      auto e = make_expr(ExprKind::kUnary, offset);
      e->name = "not";
      e->children.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    const size_t offset = current().offset;
    ExprPtr first = parse_math1();
    ExprPtr e;
    while (true) {
      std::string op;
      const Token& t = current();
      if (t.type == TokenType::kOperator &&
          (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" || t.text == ">" ||
           t.text == ">=")) {
        op = t.text;
        ++pos_;
      } else if (is_name("in")) {
        op = "in";
        ++pos_;
      } else if (is_name("not") && peek().type == TokenType::kName && peek().text == "in") {
        op = "notin";
        pos_ += 2;
      } else {
        break;
      }
      if (!e) {
        e = make_expr(ExprKind::kCompare, offset);
        e->children.push_back(std::move(first));
      }
      e->compare_ops.push_back(op);
      e->children.push_back(parse_math1());
    }
    return e ? std::move(e) : std::move(first);
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_operator("+") || is_operator("-")) {
      const Token op = next();
      left = binary(ExprKind::kBinary, op.text, std::move(left), parse_concat(), op.offset);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ExprPtr left = parse_math2();
    while (is_operator("~")) {
      const Token op = next();
      left = binary(ExprKind::kBinary, "~", std::move(left), parse_math2(), op.offset);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_operator("*") || is_operator("/") || is_operator("//") || is_operator("%")) {
      const Token op = next();
      left = binary(ExprKind::kBinary, op.text, std::move(left), parse_pow(), op.offset);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_operator("**")) {
      const Token op = next();
      left = binary(ExprKind::kBinary, "**", std::move(left), parse_unary(true), op.offset);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_operator("-") || is_operator("+")) {
      const Token op = next();
      node = make_expr(ExprKind::kUnary, op.offset);
      node->name = op.text;
      node->children.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = current();
    const size_t offset = t.offset;
    switch (t.type) {
      case TokenType::kName: {
        ++pos_;
        auto e = make_expr(ExprKind::kLiteral, offset);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::none();
        } else {
          e->kind = ExprKind::kName;
          e->name = t.text;
          if (t.text == "loop") ++num_loop_references_;
        }
        return e;
      }
      case TokenType::kString: {
        // Adjacent string literals concatenate, as in Python.
        std::string value;
        while (current().type == TokenType::kString) value += next().text;
        auto e = make_expr(ExprKind::kLiteral, offset);
        e->literal = Value(std::move(value));
        return e;
      }
      case TokenType::kInteger: {
        ++pos_;
        auto e = make_expr(ExprKind::kLiteral, offset);
        e->literal = Value(t.int_value);
        return e;
      }
      case TokenType::kFloat: {
        ++pos_;
        auto e = make_expr(ExprKind::kLiteral, offset);
        e->literal = Value(t.float_value);
        return e;
      }
      case TokenType::kOperator:
        if (t.text == "(") {
          ++pos_;
          if (skip_operator(")")) return make_expr(ExprKind::kTuple, offset);
          ExprPtr inner = parse_tuple(true);
          expect_operator(")");
          return inner;
        }
        if (t.text == "[") {
          ++pos_;
          auto e = make_expr(ExprKind::kList, offset);
          while (!is_operator("]")) {
            if (!e->children.empty()) expect_operator(",");
            if (is_operator("]")) break;
            e->children.push_back(parse_expression(true));
          }
          expect_operator("]");
          return e;
        }
        if (t.text == "{") {
          ++pos_;
          auto e = make_expr(ExprKind::kDict, offset);
          while (!is_operator("}")) {
            if (!e->children.empty()) expect_operator(",");
            if (is_operator("}")) break;
            e->children.push_back(parse_expression(true));
            expect_operator(":");
            e->children.push_back(parse_expression(true));
          }
          expect_operator("}");
          return e;
        }
        break;
      default:
        break;
    }
    fail(fmt::format("unexpected {}", describe(t)));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    while (true) {
      if (is_operator(".")) {
        const size_t offset = next().offset;
        const Token& t = current();
        if (t.type == TokenType::kName) {
          auto e = make_expr(ExprKind::kGetAttr, offset);
          e->name = next().text;
          e->children.push_back(std::move(node));
          node = std::move(e);
        } else if (t.type == TokenType::kInteger) {
          auto e = make_expr(ExprKind::kGetItem, offset);
          e->children.push_back(std::move(node));
          auto index = make_expr(ExprKind::kLiteral, t.offset);
          index->literal = Value(next().int_value);
          e->children.push_back(std::move(index));
          node = std::move(e);
        } else {
          fail("expected name or number after '.'");
        }
      } else if (is_operator("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    const size_t offset = next().offset;
    ExprPtr parts[3];
    int num_colons = 0;
    while (!is_operator("]")) {
      if (skip_operator(":")) {
        if (++num_colons > 2) fail("too many ':' in slice");
        continue;
      }
      if (parts[num_colons]) fail(fmt::format("expected ']', got {}", describe(current())));
      parts[num_colons] = parse_expression(true);
      if (num_colons == 0 && is_operator(",")) fail("tuple subscripts are not supported");
    }
    expect_operator("]");
    if (num_colons == 0) {
      if (!parts[0]) fail_at("empty subscript", offset);
      auto e = make_expr(ExprKind::kGetItem, offset);
      e->children.push_back(std::move(node));
      e->children.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make_expr(ExprKind::kSlice, offset);
    e->children.push_back(std::move(node));
    for (auto& part : parts) e->children.push_back(std::move(part));
    return e;
  }

  // Parses `(args)` into `e`'s children (after any already there) and keyword_args.
  void parse_call_args(Expr& e) {
    expect_operator("(");
    bool first = true;
    while (!is_operator(")")) {
      if (!first) expect_operator(",");
      first = false;
      if (is_operator(")")) break;
      if (is_operator("*") || is_operator("**")) fail("*args and **kwargs in calls are not supported");
      if (current().type == TokenType::kName && peek().type == TokenType::kOperator &&
          peek().text == "=") {
        std::string key = next().text;
        ++pos_;
        e.keyword_args.emplace_back(std::move(key), parse_expression(true));
      } else {
        if (!e.keyword_args.empty()) fail("positional argument follows keyword argument");
        e.children.push_back(parse_expression(true));
      }
    }
    expect_operator(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto e = make_expr(ExprKind::kCall, current().offset);
    e->children.push_back(std::move(callee));
    parse_call_args(*e);
    return e;
  }

  // Parses `| name(args)` filters applied to `input`; jinja2 also allows dotted names.
  ExprPtr parse_filter_chain(ExprPtr input, bool leading_pipe = true) {
    bool need_pipe = leading_pipe;
    while (true) {
      if (need_pipe && !skip_operator("|")) return input;
      need_pipe = true;
      auto e = make_expr(ExprKind::kFilter, current().offset);
      e->name = expect_name();
      while (is_operator(".")) {
        ++pos_;
        e->name += "." + expect_name();
      }
      e->children.push_back(std::move(input));
      if (is_operator("(")) parse_call_args(*e);
      input = std::move(e);
      if (!is_operator("|")) return input;
    }
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    while (true) {
      if (is_operator("|")) {
        node = parse_filter_chain(std::move(node));
      } else if (is_name("is")) {
        node = parse_test(std::move(node));
      } else if (is_operator("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_test(ExprPtr node) {
    auto e = make_expr(ExprKind::kTest, next().offset);
    e->negated = skip_name("not");
    e->name = expect_name();
    while (is_operator(".")) {
      ++pos_;
      e->name += "." + expect_name();
    }
    e->children.push_back(std::move(node));
    const Token& t = current();
    const bool starts_argument =
        t.type == TokenType::kName || t.type == TokenType::kString ||
        t.type == TokenType::kInteger || t.type == TokenType::kFloat ||
        (t.type == TokenType::kOperator && (t.text == "(" || t.text == "[" || t.text == "{"));
    if (is_operator("(")) {
      parse_call_args(*e);
    } else if (starts_argument && !is_name("else") && !is_name("or") && !is_name("and")) {
      if (is_name("is")) fail("you cannot chain multiple tests with is");
      e->children.push_back(parse_postfix(parse_primary()));
    }
    return e;
  }

  LexedTemplate lexed_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
  int64_t num_loop_references_ = 0;  // names `loop` parsed so far
};

}  // namespace

ParsedTemplate parse_template(std::string_view source) {
  if (source.size() > kMaxTemplateSourceBytes) {
    throw InvalidArgument(fmt::format(
        "chat template is {} bytes, more than kMaxTemplateSourceBytes ({} bytes)",
        source.size(), kMaxTemplateSourceBytes));
  }
  return Parser(tokenize(source)).run();
}

}  // namespace vllm::jinja
