#include "core/json_depth.h"

namespace vllm {

std::optional<size_t> find_json_depth_excess(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;   // the previous character inside a string was an unescaped '\'
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return i;
        break;
      case ']':
      case '}':
        // A stray closing bracket is a syntax error the parser reports; it must not lower
        // the count below zero and hide a deeper run that follows.
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace vllm
