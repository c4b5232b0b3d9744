// Language features of the Jinja renderer against outputs of Python jinja2 with HF's settings
// (recorded in tests/data/chat_templates/cases.json by tools/make_chat_template_goldens.py),
// plus syntax errors and hostile templates, which must fail with InvalidArgument and no crash.
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "tokenizer/chat_template/chat_template.h"
#include "tokenizer/chat_template/limits.h"

namespace vllm {
namespace {

const nlohmann::ordered_json& language_cases() {
  static const nlohmann::ordered_json data = [] {
    std::ifstream in(std::string(VLLM_TEST_DATA_DIR) + "/chat_templates/cases.json", std::ios::binary);
    return nlohmann::ordered_json::parse(in)["language"];
  }();
  return data;
}

std::vector<size_t> indices() {
  std::vector<size_t> out(language_cases().size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = i;
  return out;
}

// Renders `source` with the case's context as template variables.
std::string render_with_context(const std::string& source, const nlohmann::ordered_json& context) {
  nlohmann::ordered_json extra = context;
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  if (extra.contains("messages")) {
    messages = extra["messages"];
    extra.erase("messages");
  }
  return ChatTemplate(source).render(messages, false, extra);
}

// The message of the InvalidArgument that `fn` throws, or "no exception".
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no exception";
}

class JinjaLanguage : public testing::TestWithParam<size_t> {};

TEST_P(JinjaLanguage, MatchesJinja2) {
  const auto& c = language_cases()[GetParam()];
  const std::string source = c["template"];
  if (c.contains("expected")) {
    EXPECT_EQ(render_with_context(source, c["context"]), c["expected"].get<std::string>());
  } else if (c.contains("raise_exception")) {
    EXPECT_EQ(error_of([&] { render_with_context(source, c["context"]); }),
              c["raise_exception"].get<std::string>());
  } else {
    // jinja2's message after its "ErrorType: " prefix.
    const std::string python_error = c["error"];
    const std::string expected_message = python_error.substr(python_error.find(": ") + 2);
    EXPECT_EQ(error_of([&] { render_with_context(source, c["context"]); }), expected_message);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, JinjaLanguage, testing::ValuesIn(indices()),
                         [](const testing::TestParamInfo<size_t>& info) {
                           return language_cases()[info.param]["name"].get<std::string>();
                         });

TEST(JinjaSyntax, ErrorNamesLineAndColumn) {
  const std::string message = error_of([] { ChatTemplate("line one\n{% if %}"); });
  EXPECT_NE(message.find("line 2, column"), std::string::npos) << message;
}

TEST(JinjaSyntax, UnclosedBlockFails) {
  EXPECT_THROW(ChatTemplate("{% for x in y %}no end"), InvalidArgument);
}

TEST(JinjaSyntax, UnclosedVariableFails) {
  EXPECT_THROW(ChatTemplate("{{ x "), InvalidArgument);
}

TEST(JinjaSyntax, UnknownTagFails) {
  EXPECT_THROW(ChatTemplate("{% include 'x' %}"), InvalidArgument);
}

TEST(JinjaSyntax, UnknownFilterInDeadBranchParses) {
  const ChatTemplate tmpl("{% if false %}{{ x | no_such_filter }}{% endif %}ok");
  EXPECT_EQ(tmpl.render(nlohmann::ordered_json::array(), false), "ok");
}

TEST(JinjaSyntax, UnknownFilterFailsWhenReached) {
  const ChatTemplate tmpl("{{ 'x' | no_such_filter }}");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::array(), false), InvalidArgument);
}

TEST(JinjaSyntax, UnknownTestFailsWhenReached) {
  const ChatTemplate tmpl("{{ 'x' is no_such_test }}");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::array(), false), InvalidArgument);
}

TEST(JinjaSyntax, BreakOutsideLoopFails) {
  EXPECT_THROW(ChatTemplate("{% break %}"), InvalidArgument);
}

TEST(JinjaSyntax, UnterminatedStringFails) {
  EXPECT_THROW(ChatTemplate("{{ 'abc }}"), InvalidArgument);
}

TEST(JinjaHostile, InfiniteMacroRecursion) {
  const ChatTemplate tmpl("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(JinjaHostile, HugeOutputFromNestedLoops) {
  const ChatTemplate tmpl(
      "{% for a in range(1000) %}{% for b in range(1000) %}{{ 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' }}"
      "{% endfor %}{% endfor %}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxOutputBytes"), std::string::npos) << message;
}

TEST(JinjaHostile, TooManyLoopIterations) {
  const ChatTemplate tmpl(
      "{% for a in range(2000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxLoopIterations"), std::string::npos) << message;
}

TEST(JinjaHostile, HugeRange) {
  const ChatTemplate tmpl("{{ range(1000000000) | length }}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxLoopIterations"), std::string::npos) << message;
}

TEST(JinjaHostile, StringRepetitionBomb) {
  const ChatTemplate tmpl("{% set s = 'x' * 1000000 %}{{ s * 1000 }}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxOutputBytes"), std::string::npos) << message;
}

TEST(JinjaHostile, DoublingStringInLoop) {
  const ChatTemplate tmpl(
      "{% set ns = namespace(s='x') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxOutputBytes"), std::string::npos) << message;
}

TEST(JinjaHostile, DeepExpressionNesting) {
  const std::string source = "{{ " + std::string(10000, '(') + "1" + std::string(10000, ')') + " }}";
  const std::string message = error_of([&] { ChatTemplate tmpl(source); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(JinjaHostile, DeepStatementNesting) {
  std::string source;
  for (int i = 0; i < 5000; ++i) source += "{% if true %}";
  for (int i = 0; i < 5000; ++i) source += "{% endif %}";
  const std::string message = error_of([&] { ChatTemplate tmpl(source); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(JinjaHostile, DeepUnaryNesting) {
  const std::string source = "{{ " + std::string(10000, '-') + "1 }}";
  const std::string message = error_of([&] { ChatTemplate tmpl(source); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(JinjaHostile, OversizedSource) {
  const std::string source(jinja::kMaxTemplateSourceBytes + 1, 'x');
  const std::string message = error_of([&] { ChatTemplate tmpl(source); });
  EXPECT_NE(message.find("kMaxTemplateSourceBytes"), std::string::npos) << message;
}

TEST(JinjaHostile, MutualMacroRecursion) {
  const ChatTemplate tmpl(
      "{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(JinjaHostile, IntegerOverflowRaises) {
  const ChatTemplate tmpl("{{ 2 ** 64 }}");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::array(), false), InvalidArgument);
}

TEST(JinjaHostile, EmptyStringRepetition) {
  const ChatTemplate tmpl("[{{ '' * 9223372036854775807 }}{{ [] * 9223372036854775807 }}]");
  EXPECT_EQ(tmpl.render(nlohmann::ordered_json::array(), false), "[[]]");
}

TEST(JinjaHostile, DeepListChain) {
  const ChatTemplate tmpl(
      "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}{% set ns.x = [ns.x] %}{% endfor %}");
  const std::string message = error_of([&] { tmpl.render(nlohmann::ordered_json::array(), false); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(JinjaHostile, NamespaceChain) {
  const ChatTemplate tmpl(
      "{% set ns = namespace(cur=none) %}{% for i in range(100000) %}{% set n = namespace() %}"
      "{% set n.p = ns.cur %}{% set ns.cur = n %}{% endfor %}");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::array(), false), InvalidArgument);
}

TEST(JinjaHostile, NamespaceCycle) {
  const ChatTemplate tmpl("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::array(), false), InvalidArgument);
}

TEST(JinjaHostile, DeepJsonInput) {
  const std::string nested = std::string(100000, '[') + std::string(100000, ']');
  const auto messages = nlohmann::ordered_json::parse(R"([{"content": )" + nested + "}]");
  const ChatTemplate tmpl("{{ messages }}");
  const std::string message = error_of([&] { tmpl.render(messages, false); });
  EXPECT_NE(message.find("kMaxRecursionDepth"), std::string::npos) << message;
}

TEST(JinjaHostile, EscapedMacroCallRaises) {
  const ChatTemplate tmpl(
      "{% set ns = namespace() %}{% for i in [1] %}{% macro m() %}{{ i }}{% endmacro %}"
      "{% set ns.m = m %}{% endfor %}{{ ns.m() }}");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::array(), false), InvalidArgument);
}

}  // namespace
}  // namespace vllm
