// Stop strings on detokenized output text (vLLM's check_stop_strings), and the hold-back
// that keeps partial stop strings out of streamed text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vllm {

struct StopStringMatch {
  std::string stop_str;
  // Byte length the output text is cut to; nullopt keeps the text as it is (the stop
  // string is included and ends the text).
  std::optional<size_t> truncate_to;
};

// Looks for a stop string that ends within the last `num_new_bytes` bytes of `text` (UTF-8),
// so a match may span earlier text. Stop strings are tried in list order and the first that
// matches wins, as in vLLM. The text is cut before the match, or after it when
// `include_in_output`.
std::optional<StopStringMatch> check_stop_strings(std::string_view text, size_t num_new_bytes,
                                                  const std::vector<std::string>& stop,
                                                  bool include_in_output);

// Returns the byte length of `text` (UTF-8) without its last `num_chars` code points.
size_t length_without_last_chars(std::string_view text, int num_chars);

}  // namespace vllm
