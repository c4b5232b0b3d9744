#include "engine/stop_checker.h"

namespace vllm {

std::optional<StopStringMatch> check_stop_strings(std::string_view text, size_t num_new_bytes,
                                                  const std::vector<std::string>& stop,
                                                  bool include_in_output) {
  if (num_new_bytes == 0) return std::nullopt;
  for (const std::string& stop_str : stop) {
    // A match that ends in the new text starts at most stop_str.size() - 1 bytes before it.
    const size_t window = num_new_bytes + stop_str.size() - 1;
    const size_t start = text.size() > window ? text.size() - window : 0;
    size_t index = text.find(stop_str, start);
    if (index == std::string_view::npos) continue;
    if (!include_in_output) return StopStringMatch{stop_str, index};
    index += stop_str.size();
    if (index >= text.size()) return StopStringMatch{stop_str, std::nullopt};
    return StopStringMatch{stop_str, index};
  }
  return std::nullopt;
}

size_t length_without_last_chars(std::string_view text, int num_chars) {
  size_t end = text.size();
  for (int i = 0; i < num_chars && end > 0; ++i) {
    --end;
    // Step back over continuation bytes to the first byte of the code point.
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  }
  return end;
}

}  // namespace vllm
