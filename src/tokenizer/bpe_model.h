// BPE model: vocabulary plus ranked merges, applied to the initial symbols of one
// pre-tokenized piece exactly as HF `tokenizers` does (always the lowest-ranked adjacent
// pair first, the leftmost one among equals).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace vllm {

class BpeModel {
 public:
  // `tokens[id]` is the vocabulary string of id (empty for an unused id). Each merge names
  // two vocabulary strings whose concatenation is in the vocabulary too; otherwise throws
  // std::invalid_argument naming the merge. A later duplicate of a merge replaces its rank,
  // as in HF.
  BpeModel(std::vector<std::string> tokens,
           std::span<const std::pair<std::string, std::string>> merges);
  // token_ids_ contains views into tokens_, so the model must not be copied or moved.
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  int32_t vocab_size() const { return static_cast<int32_t>(tokens_.size()); }
  std::optional<int32_t> token_to_id(std::string_view token) const;
  const std::string& id_to_token(int32_t id) const { return tokens_[id]; }

  // Merges `symbols` (ids of single-character tokens) as far as the merges allow and
  // appends the resulting ids to `out`.
  void merge(std::span<const int32_t> symbols, std::vector<int32_t>& out) const;

 private:
  struct MergeRule {
    int32_t rank;
    int32_t merged_id;
  };
  static uint64_t pair_key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  const MergeRule* find_merge(int32_t left, int32_t right) const;

  std::vector<std::string> tokens_;
  std::unordered_map<std::string_view, int32_t> token_ids_;  // views into tokens_
  std::unordered_map<uint64_t, MergeRule> merges_;
};

}  // namespace vllm
