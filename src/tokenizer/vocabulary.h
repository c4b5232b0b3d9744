// A tokenizer vocabulary: strings by id and the id of each string. The reverse index is an
// open-addressing table of ids, 4 bytes a slot and at most half full. A 262,144-token
// vocabulary costs its strings plus 2 MiB, and a lookup allocates nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vllm {

class Vocabulary {
 public:
  Vocabulary() = default;
  // `tokens[id]` is the string of id. An empty string marks an unused id and is never
  // found. When a string repeats, the later id wins, as in a Python dict built from the
  // list.
  explicit Vocabulary(std::vector<std::string> tokens);

  std::optional<int32_t> find(std::string_view token) const;
  const std::vector<std::string>& tokens() const { return tokens_; }
  int32_t size() const { return static_cast<int32_t>(tokens_.size()); }

 private:
  static constexpr int32_t kEmptySlot = -1;
  size_t slot_of(std::string_view token) const;  // the slot containing token, or an empty one

  std::vector<std::string> tokens_;
  std::vector<int32_t> slots_;  // [power of two >= 2 x tokens] ids, kEmptySlot when unused
};

}  // namespace vllm
