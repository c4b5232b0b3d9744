// BPE model: vocabulary plus ranked merges, applied to the initial symbols of one
// pre-tokenized piece exactly as HF `tokenizers` does (always the lowest-ranked adjacent
// pair first, the leftmost one among equals).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/vocabulary.h"

namespace vllm {

class BpeModel {
 public:
  // `tokens[id]` is the vocabulary string of id (empty for an unused id). Each merge names
  // two vocabulary strings whose concatenation is in the vocabulary too; otherwise throws
  // std::invalid_argument naming the merge. A later duplicate of a merge replaces its rank,
  // as in HF.
  BpeModel(std::vector<std::string> tokens,
           std::span<const std::pair<std::string, std::string>> merges);
  int32_t vocab_size() const { return vocab_.size(); }
  std::optional<int32_t> token_to_id(std::string_view token) const { return vocab_.find(token); }
  const std::string& id_to_token(int32_t id) const { return vocab_.tokens()[id]; }
  const Vocabulary& vocabulary() const { return vocab_; }

  // Merges `symbols` (ids of single-character tokens) as far as the merges allow and
  // appends the resulting ids to `out`.
  void merge(std::span<const int32_t> symbols, std::vector<int32_t>& out) const;

 private:
  struct MergeRule {
    int32_t right_id;
    int32_t rank;
    int32_t merged_id;
  };
  const MergeRule* find_merge(int32_t left, int32_t right) const;

  Vocabulary vocab_;
  // The merges grouped by left id, each group sorted by right id: the rules of left id l
  // are merge_rules_[merge_offsets_[l] .. merge_offsets_[l + 1]). 12 bytes a merge, where a
  // node-based hash map takes about 32; Gemma 3's vocabulary recovers 514,906 merges.
  std::vector<uint32_t> merge_offsets_;  // [vocab_size + 1]
  std::vector<MergeRule> merge_rules_;   // [num_merges]
};

}  // namespace vllm
