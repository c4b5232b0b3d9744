// Nesting-depth limit for JSON read from files and clients. nlohmann::json parses, copies,
// compares and prints nested values recursively, so a document such as 100,000 '[' would
// overflow the stack. Callers scan the text with find_json_depth_excess before parsing it.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace vllm {

// Default maximum nesting depth of JSON arrays and objects. Tokenizer and config files nest
// fewer than 10 levels and OpenAI requests (tool schemas included) rarely more than 30.
inline constexpr int kDefaultMaxJsonDepth = 512;

// Returns the byte offset of the first '[' or '{' that opens level `max_depth` + 1, or
// nullopt when `text` nests at most `max_depth` levels. Brackets inside strings do not
// count. Runs in linear time and constant stack, and never throws; on malformed text the
// result bounds the depth any JSON parser reaches before it reports the syntax error.
std::optional<size_t> find_json_depth_excess(std::string_view text, int max_depth);

}  // namespace vllm
