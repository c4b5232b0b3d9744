// Fuzz target for the Jinja2 chat-template engine, in two modes picked by the first input
// byte:
//   even: the rest is template source, parsed and rendered with a fixed conversation;
//   odd:  the rest is a JSON request part rendered with one of the committed real templates
//         (picked by the second byte). A JSON array is the messages; an object supplies
//         "messages" and the extra context (tools, documents, template kwargs).
// Parsing and rendering may fail only with InvalidArgument, and invalid JSON only with
// nlohmann's parse_error or out_of_range (a number such as 1e999).
#include <array>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/errors.h"
#include "core/json_depth.h"
#include "fuzz/fuzz_support.h"
#include "tokenizer/chat_template/chat_template.h"

namespace {

using nlohmann::ordered_json;

const ordered_json& fixed_messages() {
  static const ordered_json messages = ordered_json::parse(R"([
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function":
      {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}]},
    {"role": "tool", "content": "{\"temperature\": 21}"},
    {"role": "assistant", "content": "It is 21 °C.", "reasoning_content": "Read the tool."},
    {"role": "user", "content": [{"type": "text", "text": "Thanks! 😀"}]}
  ])");
  return messages;
}

const ordered_json& fixed_extra_context() {
  static const ordered_json extra = ordered_json::parse(R"({
    "bos_token": "<s>", "eos_token": "</s>", "enable_thinking": false,
    "tools": [{"type": "function", "function": {"name": "get_weather",
      "description": "Current weather", "parameters": {"type": "object",
      "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
  })");
  return extra;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Real templates covering plain chat, tool calls, reasoning and strict role alternation.
constexpr std::array<const char*, 6> kTemplateFiles = {
    "chat_templates/smollm2-instruct.jinja",
    "chat_templates/llama-3.2-instruct.jinja",
    "chat_templates/qwen3.jinja",
    "chat_templates/hermes-3-llama-3.1-tool-use.jinja",
    "chat_templates/mistral-7b-instruct-v0.3.jinja",
    "chat_templates/gemma-3-it.jinja",
};

const vllm::ChatTemplate& real_template(size_t index) {
  static const std::array<std::unique_ptr<vllm::ChatTemplate>, kTemplateFiles.size()> templates =
      [] {
        std::array<std::unique_ptr<vllm::ChatTemplate>, kTemplateFiles.size()> parsed;
        for (size_t i = 0; i < kTemplateFiles.size(); ++i) {
          parsed[i] = std::make_unique<vllm::ChatTemplate>(
              read_text_file(vllm::fuzz::test_data_path(kTemplateFiles[i])));
        }
        return parsed;
      }();
  return *templates[index % templates.size()];
}

void render_template_source(std::string_view source) {
  try {
    const vllm::ChatTemplate chat_template{std::string(source)};
    (void)chat_template.render(fixed_messages(), /*add_generation_prompt=*/true,
                               fixed_extra_context());
  } catch (const vllm::InvalidArgument&) {
  }
}

void render_request_json(uint8_t template_choice, std::string_view json_text) {
  // The server rejects deeper request bodies before parsing them (parse_json_body), and
  // nlohmann::json cannot copy or print deeper values without overflowing the stack.
  if (vllm::find_json_depth_excess(json_text, vllm::kDefaultMaxJsonDepth)) return;
  ordered_json request;
  try {
    request = ordered_json::parse(json_text);
  } catch (const ordered_json::exception&) {  // parse_error, or out_of_range for 1e999
    return;
  }
  ordered_json messages;
  ordered_json extra = ordered_json::object();
  if (request.is_object()) {
    for (auto& [key, value] : request.items()) {
      if (key == "messages") {
        messages = value;
      } else {
        extra[key] = value;
      }
    }
  } else {
    messages = request;
  }
  if (!extra.contains("bos_token")) extra["bos_token"] = "<s>";
  if (!extra.contains("eos_token")) extra["eos_token"] = "</s>";
  try {
    (void)real_template(template_choice).render(messages, (template_choice & 0x80) != 0, extra);
  } catch (const vllm::InvalidArgument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vllm::fuzz::silence_logs();
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((data[0] & 1) == 0) {
    render_template_source(rest);
  } else if (!rest.empty()) {
    render_request_json(static_cast<uint8_t>(rest[0]), rest.substr(1));
  }
  return 0;
}
