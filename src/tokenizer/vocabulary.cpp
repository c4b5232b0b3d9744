#include "tokenizer/vocabulary.h"

#include <algorithm>
#include <bit>
#include <functional>

namespace vllm {

Vocabulary::Vocabulary(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  slots_.assign(std::bit_ceil(std::max<size_t>(2 * tokens_.size(), 2)), kEmptySlot);
  for (size_t id = 0; id < tokens_.size(); ++id) {
    if (!tokens_[id].empty()) slots_[slot_of(tokens_[id])] = static_cast<int32_t>(id);
  }
}

size_t Vocabulary::slot_of(std::string_view token) const {
  const size_t mask = slots_.size() - 1;
  // Linear probing. The table is at most half full, so an empty slot ends every search.
  for (size_t slot = std::hash<std::string_view>{}(token) & mask;; slot = (slot + 1) & mask) {
    const int32_t id = slots_[slot];
    if (id == kEmptySlot || tokens_[id] == token) return slot;
  }
}

std::optional<int32_t> Vocabulary::find(std::string_view token) const {
  if (token.empty() || slots_.empty()) return std::nullopt;
  const int32_t id = slots_[slot_of(token)];
  if (id == kEmptySlot) return std::nullopt;
  return id;
}

}  // namespace vllm
