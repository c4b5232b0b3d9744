// Renders the real chat templates of tests/data/chat_templates over the conversations in
// cases.json and compares with the output of Python jinja2 under HF's settings, which
// tools/make_chat_template_goldens.py recorded.
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "tokenizer/chat_template/chat_template.h"

namespace vllm {
namespace {

const std::string kDataDir = std::string(VLLM_TEST_DATA_DIR) + "/chat_templates";

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const nlohmann::ordered_json& goldens() {
  static const nlohmann::ordered_json data = nlohmann::ordered_json::parse(read_file(kDataDir + "/cases.json"));
  return data;
}

std::vector<size_t> case_indices() {
  std::vector<size_t> indices(goldens()["cases"].size());
  for (size_t i = 0; i < indices.size(); ++i) indices[i] = i;
  return indices;
}

const ChatTemplate& template_for(const std::string& file_name) {
  static std::map<std::string, ChatTemplate> cache;
  auto it = cache.find(file_name);
  if (it == cache.end()) {
    it = cache.emplace(file_name, ChatTemplate(read_file(kDataDir + "/" + file_name))).first;
  }
  return it->second;
}

std::string case_name(size_t index) {
  const auto& c = goldens()["cases"][index];
  std::string name = c["template"].get<std::string>() + "_" + c["name"].get<std::string>();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

class ChatTemplateGolden : public testing::TestWithParam<size_t> {};

TEST_P(ChatTemplateGolden, MatchesJinja2) {
  const auto& c = goldens()["cases"][GetParam()];
  const ChatTemplate& tmpl = template_for(c["template"]);
  const bool add_generation_prompt = c["add_generation_prompt"];
  if (c.contains("expected")) {
    EXPECT_EQ(tmpl.render(c["messages"], add_generation_prompt, c["context"]),
              c["expected"].get<std::string>());
  } else if (c.contains("raise_exception")) {
    try {
      tmpl.render(c["messages"], add_generation_prompt, c["context"]);
      ADD_FAILURE() << "expected raise_exception: " << c["raise_exception"];
    } catch (const InvalidArgument& e) {
      EXPECT_EQ(std::string(e.what()), c["raise_exception"].get<std::string>());
    }
  } else {
    EXPECT_THROW(tmpl.render(c["messages"], add_generation_prompt, c["context"]), InvalidArgument)
        << "jinja2 raised " << c["error"];
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, ChatTemplateGolden, testing::ValuesIn(case_indices()),
                         [](const testing::TestParamInfo<size_t>& info) { return case_name(info.param); });

TEST(ChatTemplate, AllTemplateFilesHaveCases) {
  for (const auto& [file_name, origin] : goldens()["templates"].items()) {
    EXPECT_NO_THROW(template_for(file_name)) << file_name;
  }
  EXPECT_GE(goldens()["templates"].size(), 10u);
}

TEST(ChatTemplate, FacadeMatchesHf) {
  for (const auto& c : goldens()["facade"]) {
    const ChatTemplate tmpl(c["template"].get<std::string>());
    EXPECT_EQ(tmpl.render(c["messages"], false, c["context"]), c["expected"].get<std::string>())
        << c["name"];
  }
}

TEST(ChatTemplate, RejectsNonArrayMessages) {
  const ChatTemplate tmpl("x");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::object(), false), InvalidArgument);
}

TEST(ChatTemplate, RejectsNonObjectMessage) {
  const ChatTemplate tmpl("x");
  EXPECT_THROW(tmpl.render(nlohmann::ordered_json::parse(R"(["hi"])"), false), InvalidArgument);
}

TEST(ChatTemplate, StrftimeNowFormats) {
  const ChatTemplate tmpl("{{ strftime_now('%Y') | length }}");
  EXPECT_EQ(tmpl.render(nlohmann::ordered_json::array(), false), "4");
}

}  // namespace
}  // namespace vllm
