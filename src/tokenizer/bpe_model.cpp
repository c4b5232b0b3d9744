#include "tokenizer/bpe_model.h"

#include <queue>
#include <stdexcept>

#include <fmt/format.h>

namespace vllm {

BpeModel::BpeModel(std::vector<std::string> tokens,
                   std::span<const std::pair<std::string, std::string>> merges)
    : tokens_(std::move(tokens)) {
  token_ids_.reserve(tokens_.size());
  for (size_t id = 0; id < tokens_.size(); ++id) {
    if (!tokens_[id].empty()) token_ids_.emplace(tokens_[id], static_cast<int32_t>(id));
  }
  merges_.reserve(merges.size());
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
    merges_.insert_or_assign(pair_key(*left_id, *right_id),
                             MergeRule{static_cast<int32_t>(rank), *merged_id});
  }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
  const auto it = token_ids_.find(token);
  if (it == token_ids_.end()) return std::nullopt;
  return it->second;
}

const BpeModel::MergeRule* BpeModel::find_merge(int32_t left, int32_t right) const {
  const auto it = merges_.find(pair_key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
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
