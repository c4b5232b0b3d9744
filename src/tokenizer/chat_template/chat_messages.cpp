#include "tokenizer/chat_template/chat_messages.h"

#include <string>

#include <fmt/format.h>

#include "core/errors.h"

namespace vllm {

using json = nlohmann::ordered_json;

namespace {

// The text of content part `part` of messages[index]: a string, or a text part's "text".
std::string part_text(const json& part, size_t index, size_t part_index) {
  if (part.is_string()) return part.get<std::string>();
  if (!part.is_object()) {
    throw InvalidArgument(fmt::format(
        "messages[{}].content[{}] must be a string or an object with a type, not {}.", index,
        part_index, part.type_name()));
  }
  const auto type = part.find("type");
  if (type == part.end() || !type->is_string()) {
    throw InvalidArgument(
        fmt::format("messages[{}].content[{}].type must be a string, not {}.", index,
                    part_index, type == part.end() ? "missing" : type->type_name()));
  }
  if (type->get<std::string>() != "text") {
    throw InvalidArgument(fmt::format(
        "messages[{}].content[{}] has type {}, but only text parts are supported by this "
        "text-only model.",
        index, part_index, type->dump()));
  }
  const auto text = part.find("text");
  if (text == part.end() || !text->is_string()) {
    throw InvalidArgument(fmt::format(
        "messages[{}].content[{}].text must be a string for a part of type \"text\", not {}.",
        index, part_index, text == part.end() ? "missing" : text->type_name()));
  }
  return text->get<std::string>();
}

}  // namespace

json parse_chat_message(const json& message, size_t index) {
  if (!message.is_object()) {
    throw InvalidArgument(fmt::format("messages[{}] must be an object.", index));
  }
  if (!message.contains("role") || !message["role"].is_string()) {
    throw InvalidArgument(fmt::format("messages[{}].role must be a string.", index));
  }

  // Templates read these fields as strings or lists, and vLLM rejects other types.
  for (const char* field : {"name", "tool_call_id"}) {
    const auto value = message.find(field);
    if (value != message.end() && !value->is_null() && !value->is_string()) {
      throw InvalidArgument(fmt::format("messages[{}].{} must be a string, not {}.", index,
                                        field, value->type_name()));
    }
  }
  const auto tool_calls = message.find("tool_calls");
  if (tool_calls != message.end() && !tool_calls->is_null()) {
    if (!tool_calls->is_array()) {
      throw InvalidArgument(fmt::format("messages[{}].tool_calls must be a list, not {}.", index,
                                        tool_calls->type_name()));
    }
    for (size_t i = 0; i < tool_calls->size(); ++i) {
      if (!(*tool_calls)[i].is_object()) {
        throw InvalidArgument(fmt::format("messages[{}].tool_calls[{}] must be an object, not {}.",
                                          index, i, (*tool_calls)[i].type_name()));
      }
    }
  }

  json parsed = message;
  const auto content = message.find("content");
  if (content == message.end() || content->is_null()) {
    parsed["content"] = "";
    return parsed;
  }
  if (content->is_string()) return parsed;
  if (!content->is_array()) {
    throw InvalidArgument(
        fmt::format("messages[{}].content must be a string or a list of parts.", index));
  }

  std::string text;
  for (size_t i = 0; i < content->size(); ++i) {
    if (i > 0) text += "\n";
    text += part_text((*content)[i], index, i);
  }
  parsed["content"] = text;
  return parsed;
}

json parse_chat_messages(const json& messages) {
  if (!messages.is_array()) throw InvalidArgument("messages must be a list of messages.");
  json parsed = json::array();
  for (size_t i = 0; i < messages.size(); ++i) parsed.push_back(parse_chat_message(messages[i], i));
  return parsed;
}

}  // namespace vllm
