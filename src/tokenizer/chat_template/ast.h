// The syntax tree of a parsed template: expressions and statements. Nodes are plain tagged
// structs; the renderer switches on `kind`.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/chat_template/value.h"

namespace vllm::jinja {

enum class ExprKind {
  kLiteral,    // literal
  kName,       // name
  kList,       // children: items
  kTuple,      // children: items
  kDict,       // children: key0, value0, key1, value1, ...
  kGetAttr,    // children[0].name
  kGetItem,    // children[0][children[1]]
  kSlice,      // children[0][children[1]:children[2]:children[3]], absent parts are null
  kCall,       // children[0](children[1:], keyword_args)
  kFilter,     // children[0] | name(children[1:], keyword_args); children[0] null in filter blocks
  kTest,       // children[0] is [not] name(children[1:], keyword_args)
  kUnary,      // name ("-", "+", "not") applied to children[0]
  kBinary,     // children[0] name children[1]; name is an arithmetic operator or "~"
  kAnd,        // children[0] and children[1]
  kOr,         // children[0] or children[1]
  kCompare,    // children[0] compare_ops[0] children[1] compare_ops[1] children[2] ...
  kCondition,  // children[1] if children[0] else children[2] (children[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  size_t offset = 0;  // byte offset in the source, for error locations
  Value literal;
  std::string name;
  bool negated = false;  // `is not` tests
  std::vector<ExprPtr> children;
  std::vector<std::pair<std::string, ExprPtr>> keyword_args;
  std::vector<std::string> compare_ops;  // "==", "!=", "<", "<=", ">", ">=", "in", "notin"
};

enum class StmtKind {
  kText,        // text
  kOutput,      // {{ expr }}
  kIf,          // branches, else_body
  kFor,         // for targets in expr [if condition]: body, else_body
  kSet,         // targets = expr; or attribute set when target_attribute is non-empty
  kSetBlock,    // targets[0] = rendered body, piped through filter (may be null)
  kMacro,       // macro text(params = defaults): body
  kCallBlock,   // call(params) expr: body is the caller
  kFilterBlock, // filter: body piped through filter
  kWith,        // with targets = with_values: body
  kBreak,
  kContinue,
  kGeneration,  // HF's {% generation %}: renders its body unchanged
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
  StmtKind kind;
  size_t offset = 0;
  std::string text;
  std::vector<std::string> targets;
  std::string target_attribute;  // `set ns.attr = ...`: targets[0] is the namespace
  ExprPtr expr;
  ExprPtr condition;  // loop filter of `for ... if condition`
  bool uses_loop_variable = true;  // kFor: whether the body names `loop`, so it must be built
  ExprPtr filter;     // kSetBlock, kFilterBlock: kFilter chain whose innermost input is null
  std::vector<std::pair<ExprPtr, Body>> branches;  // kIf
  Body body;
  Body else_body;
  std::vector<std::string> params;  // kMacro, kCallBlock
  std::vector<ExprPtr> defaults;    // one per param, null when it has none
  std::vector<ExprPtr> with_values; // kWith, one per target
};

}  // namespace vllm::jinja
