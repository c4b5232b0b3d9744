// Bounded, thread-safe cache from a pre-tokenized piece to its BPE ids. Text repeats words
// so much that most pieces skip the merge loop. When full, it stops taking new entries (as
// HF's BPE cache does) so that memory stays bounded without eviction bookkeeping.
#pragma once

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace vllm {

class WordCache {
 public:
  // Pieces longer than max_piece_bytes are never cached.
  WordCache(size_t capacity, size_t max_piece_bytes)
      : capacity_(capacity), max_piece_bytes_(max_piece_bytes) {}

  // Appends the cached ids of `piece` to `out` and returns true, or returns false.
  bool lookup(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.size() > max_piece_bytes_) return false;
    std::shared_lock lock(mutex_);
    const auto it = entries_.find(piece);
    if (it == entries_.end()) return false;
    out.insert(out.end(), it->second.begin(), it->second.end());
    return true;
  }

  void insert(std::string_view piece, std::span<const int32_t> ids) {
    if (piece.size() > max_piece_bytes_) return;
    std::unique_lock lock(mutex_);
    if (entries_.size() >= capacity_) return;
    entries_.try_emplace(std::string(piece), ids.begin(), ids.end());
  }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  size_t capacity_;
  size_t max_piece_bytes_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::vector<int32_t>, Hash, std::equal_to<>> entries_;
};

}  // namespace vllm
