#include "tokenizer/chat_template/chat_template.h"

#include "core/errors.h"
#include "tokenizer/chat_template/parser.h"
#include "tokenizer/chat_template/renderer.h"

namespace vllm {

namespace {

// Names a message's reasoning may come under; templates read the first, "reasoning_content".
constexpr const char* kReasoningFields[] = {"reasoning_content", "thinking", "reasoning"};

// Mirrors transformers' _alias_reasoning_fields: {"thinking": r, **message,
// "reasoning_content": r}, which keeps "thinking" first unless the message has it already.
jinja::Value alias_reasoning_fields(const nlohmann::ordered_json& message) {
  jinja::Value converted = jinja::Value::from_json(message);
  if (!message.is_object()) return converted;
  const nlohmann::ordered_json* reasoning = nullptr;
  for (const char* field : kReasoningFields) {
    const auto it = message.find(field);
    if (it != message.end() && !it->is_null()) {
      reasoning = &*it;
      break;
    }
  }
  if (reasoning == nullptr) return converted;
  const jinja::Value reasoning_value = jinja::Value::from_json(*reasoning);
  jinja::ValueDict aliased;
  aliased.set(jinja::Value("thinking"), reasoning_value);
  for (const auto& [key, value] : converted.as_dict().entries()) aliased.set(key, value);
  aliased.set(jinja::Value("reasoning_content"), reasoning_value);
  return jinja::Value::dict(std::move(aliased));
}

}  // namespace

ChatTemplate::ChatTemplate(std::string source)
    : parsed_(std::make_unique<jinja::ParsedTemplate>(jinja::parse_template(source))) {}

ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate&&) noexcept = default;
ChatTemplate& ChatTemplate::operator=(ChatTemplate&&) noexcept = default;

std::string ChatTemplate::render(const nlohmann::json& messages, bool add_generation_prompt,
                                 const nlohmann::json& extra_context) const {
  return render(nlohmann::ordered_json::parse(messages.dump()), add_generation_prompt,
                nlohmann::ordered_json::parse(extra_context.dump()));
}

std::string ChatTemplate::render(const nlohmann::ordered_json& messages, bool add_generation_prompt,
                                 const nlohmann::ordered_json& extra_context) const {
  if (!messages.is_array()) {
    throw InvalidArgument(fmt::format("chat messages must be a JSON array, got {}", messages.type_name()));
  }
  if (!extra_context.is_object()) {
    throw InvalidArgument(
        fmt::format("chat template context must be a JSON object, got {}", extra_context.type_name()));
  }
  jinja::ValueList converted;
  for (const auto& message : messages) {
    if (!message.is_object()) {
      throw InvalidArgument(fmt::format("each chat message must be a JSON object, got {}", message.dump()));
    }
    converted.push_back(alias_reasoning_fields(message));
  }

  jinja::ValueDict context;
  context.set(jinja::Value("tools"), jinja::Value::none());
  context.set(jinja::Value("documents"), jinja::Value::none());
  for (auto it = extra_context.begin(); it != extra_context.end(); ++it) {
    context.set(jinja::Value(it.key()), jinja::Value::from_json(it.value()));
  }
  context.set(jinja::Value("messages"), jinja::Value::list(std::move(converted)));
  context.set(jinja::Value("add_generation_prompt"), jinja::Value(add_generation_prompt));
  return jinja::render_template(*parsed_, context);
}

}  // namespace vllm
