#include "tokenizer/bpe_model.h"

#include <algorithm>
#include <queue>
#include <stdexcept>

#include <fmt/format.h>

namespace vllm {

BpeModel::BpeModel(std::vector<std::string> tokens,
                   std::span<const std::pair<std::string, std::string>> merges)
    : vocab_(std::move(tokens)) {
  struct Merge {
    int32_t left_id;
    MergeRule rule;
  };
  std::vector<Merge> resolved;
  resolved.reserve(merges.size());
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const std::optional<int32_t> left_id = token_to_id(left);
    const std::optional<int32_t> right_id = token_to_id(right);
    joined = left + right;
    const std::optional<int32_t> merged_id = token_to_id(joined);
    if (!left_id || !right_id || !merged_id) {
      throw std::invalid_argument(fmt::format(
          "merge {} '{} {}' names a token that is not in the vocabulary", rank, left, right));
    }
    resolved.push_back({*left_id, {*right_id, static_cast<int32_t>(rank), *merged_id}});
  }
  // Group by pair; among duplicates of a pair the later merge replaces the rank, as in HF.
  std::stable_sort(resolved.begin(), resolved.end(), [](const Merge& a, const Merge& b) {
    return a.left_id != b.left_id ? a.left_id < b.left_id : a.rule.right_id < b.rule.right_id;
  });
  merge_offsets_.assign(static_cast<size_t>(vocab_.size()) + 1, 0);
  merge_rules_.reserve(resolved.size());
  for (size_t i = 0; i < resolved.size(); ++i) {
    const bool last_of_pair = i + 1 == resolved.size() ||
                              resolved[i + 1].left_id != resolved[i].left_id ||
                              resolved[i + 1].rule.right_id != resolved[i].rule.right_id;
    if (!last_of_pair) continue;
    merge_rules_.push_back(resolved[i].rule);
    ++merge_offsets_[resolved[i].left_id + 1];
  }
  for (size_t id = 0; id + 1 < merge_offsets_.size(); ++id) {
    merge_offsets_[id + 1] += merge_offsets_[id];
  }
}

const BpeModel::MergeRule* BpeModel::find_merge(int32_t left, int32_t right) const {
  const MergeRule* begin = merge_rules_.data() + merge_offsets_[left];
  const MergeRule* end = merge_rules_.data() + merge_offsets_[left + 1];
  const MergeRule* it = std::lower_bound(
      begin, end, right, [](const MergeRule& rule, int32_t id) { return rule.right_id < id; });
  return it != end && it->right_id == right ? it : nullptr;
}

void BpeModel::merge(std::span<const int32_t> symbols, std::vector<int32_t>& out) const {
  const int32_t num_symbols = static_cast<int32_t>(symbols.size());
  if (num_symbols <= 1) {
    out.insert(out.end(), symbols.begin(), symbols.end());
    return;
  }

  // Symbols form a doubly linked list; a merged-away symbol gets id -1.
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
  };
  std::vector<Symbol> list(num_symbols);
  for (int32_t i = 0; i < num_symbols; ++i) list[i] = {symbols[i], i - 1, i + 1};
  list[num_symbols - 1].next = -1;

  // Candidate merges ordered by (rank, position of the left symbol). Entries go stale when
  // a neighbour changes; they are checked against the list when popped.
  struct Candidate {
    int32_t rank;
    int32_t left;
    int32_t left_id;
    int32_t right_id;
    bool operator>(const Candidate& other) const {
      return rank != other.rank ? rank > other.rank : left > other.left;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  auto push_pair = [&](int32_t left) {
    if (left < 0) return;
    const int32_t right = list[left].next;
    if (right < 0) return;
    if (const MergeRule* rule = find_merge(list[left].id, list[right].id)) {
      queue.push({rule->rank, left, list[left].id, list[right].id});
    }
  };
  for (int32_t i = 0; i + 1 < num_symbols; ++i) push_pair(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& left = list[top.left];
    if (left.id != top.left_id || left.next < 0) continue;
    Symbol& right = list[left.next];
    if (right.id != top.right_id) continue;

    left.id = find_merge(top.left_id, top.right_id)->merged_id;
    const int32_t after = right.next;
    right.id = -1;
    left.next = after;
    if (after >= 0) list[after].prev = top.left;
    push_pair(left.prev);
    push_pair(top.left);
  }

  for (int32_t i = 0; i >= 0; i = list[i].next) out.push_back(list[i].id);
}

}  // namespace vllm
