// Maps requests to KV cache blocks (vLLM v1's KVCacheManager, one attention type).
//
// A request with num_computed_tokens = c that is scheduled for n new tokens needs
// ceil((c + n) / block_size) blocks. With block_size 4, c = 6, n = 3:
//
//   block table:  [ b7        ][ b2        ][ b9 (new)  ]
//   tokens:        0  1  2  3   4  5  6  7   8
//                  computed ----------|new -----|
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/block_pool.h"
#include "engine/request.h"

namespace vllm {

class KVCacheManager {
 public:
  KVCacheManager(int64_t num_blocks, int64_t block_size);

  // Grows the request's block table to hold num_computed_tokens + num_new_tokens tokens.
  // Returns the ids of the blocks added (possibly none), or nullopt, changing nothing, when
  // too few blocks are free. Precondition: num_new_tokens > 0.
  std::optional<std::vector<int32_t>> allocate_slots(const Request& request,
                                                     int64_t num_new_tokens);

  // Releases the request's blocks, last block first, so the tail of a sequence is evicted
  // before its prefix. Precondition: none (a request without blocks is a no-op).
  void free(const Request& request);

  // The request's block table. Precondition: none (empty for a request without blocks).
  std::vector<int32_t> get_block_ids(const std::string& request_id) const;

  double usage() const { return block_pool_.get_usage(); }
  int64_t num_free_blocks() const { return block_pool_.get_num_free_blocks(); }
  int64_t num_blocks() const { return block_pool_.num_blocks(); }
  int64_t block_size() const { return block_size_; }
  const BlockPool& block_pool() const { return block_pool_; }

 private:
  int64_t block_size_;
  BlockPool block_pool_;
  std::unordered_map<std::string, std::vector<KVCacheBlock*>> req_to_blocks_;
};

}  // namespace vllm
