// Content hashes of full KV cache blocks for prefix caching (vLLM v1's hash_block_tokens
// and generate_block_hash_extra_keys).
//
// Block i's hash is SHA-256 over (hash of block i - 1, the block's token ids, extra keys),
// so equal hashes mean equal whole prefixes, not just equal blocks:
//
//   tokens:  [ t0 .. t15 ][ t16 .. t31 ][ t32 .. t37 ]   (block_size 16)
//   hashes:    h0 = H(seed, t0..t15, salt)
//                           h1 = H(h0, t16..t31)
//                                         partial: no hash
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vllm {

using BlockHash = std::array<uint8_t, 32>;  // SHA-256 digest

struct BlockHashHasher {
  size_t operator()(const BlockHash& hash) const {
    size_t value = 0;  // the digest is uniform, so its first bytes are a good bucket key
    std::memcpy(&value, hash.data(), sizeof(value));
    return value;
  }
};

// Inputs other than token ids that change a block's KV values or must isolate caches.
struct BlockExtraKeys {
  std::optional<std::string> cache_salt;  // first block only, as in vLLM
  // TODO(lora): the LoRA adapter name goes here once adapters exist.
};

// Hash of one full block. `parent` is nullopt for the first block of a sequence.
BlockHash hash_block_tokens(const std::optional<BlockHash>& parent,
                            std::span<const int32_t> token_ids, const BlockExtraKeys& extra_keys);

// Extends `block_hashes` to cover every full block of `token_ids`; hashes already present
// are kept (tokens are only ever appended). `cache_salt` enters the first block's hash.
void update_block_hashes(std::vector<BlockHash>& block_hashes,
                         std::span<const int32_t> token_ids, int64_t block_size,
                         const std::optional<std::string>& cache_salt);

}  // namespace vllm
