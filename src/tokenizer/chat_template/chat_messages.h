// The chat messages of an OpenAI-style request, brought to the shape chat templates read,
// as vLLM does for text-only models before it renders a template. Shared by the server's
// chat endpoints and the Python LLM.chat.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

namespace vllm {

// Returns messages[index] with its content as one string: a string stays, null or absent
// content becomes "" (an assistant turn that only called tools), and a list of parts
// becomes the text of its parts (strings or {"type": "text", "text": ...}) joined by "\n".
// Other fields pass through unchanged. Throws InvalidArgument naming messages[index] for a
// message that is not an object, a role, name or tool_call_id that is not a string,
// tool_calls that are not a list of objects, and a content part that is not text.
nlohmann::ordered_json parse_chat_message(const nlohmann::ordered_json& message, size_t index);

// Returns every message of `messages` through parse_chat_message. Throws InvalidArgument when
// `messages` is not a list, or for its first invalid message.
nlohmann::ordered_json parse_chat_messages(const nlohmann::ordered_json& messages);

}  // namespace vllm
