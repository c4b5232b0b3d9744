#include "engine/block_hash.h"

#include <openssl/evp.h>

#include "core/errors.h"

namespace vllm {
namespace {

// Fields are framed by a tag and a length so that no two different inputs serialize to the
// same bytes (a salt cannot pose as token ids, for instance).
void update_field(EVP_MD_CTX* context, uint8_t tag, const void* data, uint64_t num_bytes) {
  uint8_t header[9];
  header[0] = tag;
  for (int i = 0; i < 8; ++i) header[1 + i] = static_cast<uint8_t>(num_bytes >> (8 * i));
  VLLM_CHECK(EVP_DigestUpdate(context, header, sizeof(header)) == 1, "SHA-256 update failed");
  if (num_bytes > 0) {
    VLLM_CHECK(EVP_DigestUpdate(context, data, num_bytes) == 1, "SHA-256 update failed");
  }
}

}  // namespace

BlockHash hash_block_tokens(const std::optional<BlockHash>& parent,
                            std::span<const int32_t> token_ids,
                            const BlockExtraKeys& extra_keys) {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  VLLM_CHECK(context != nullptr, "EVP_MD_CTX_new failed");
  VLLM_CHECK(EVP_DigestInit_ex(context, EVP_sha256(), nullptr) == 1, "SHA-256 init failed");
  // The first block has no parent; vLLM seeds it with a random NONE_HASH, a fixed empty
  // field serves the same purpose within one process.
  if (parent.has_value()) {
    update_field(context, 'P', parent->data(), parent->size());
  } else {
    update_field(context, 'N', nullptr, 0);
  }
  // Token ids as little-endian int32.
  std::vector<uint8_t> bytes;
  bytes.reserve(token_ids.size() * 4);
  for (int32_t token : token_ids) {
    const auto value = static_cast<uint32_t>(token);
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
  update_field(context, 'T', bytes.data(), bytes.size());
  if (extra_keys.cache_salt.has_value()) {
    update_field(context, 'S', extra_keys.cache_salt->data(), extra_keys.cache_salt->size());
  }
  BlockHash digest{};
  unsigned int digest_size = 0;
  const int ok = EVP_DigestFinal_ex(context, digest.data(), &digest_size);
  EVP_MD_CTX_free(context);
  VLLM_CHECK(ok == 1 && digest_size == digest.size(), "SHA-256 final failed");
  return digest;
}

void update_block_hashes(std::vector<BlockHash>& block_hashes,
                         std::span<const int32_t> token_ids, int64_t block_size,
                         const std::optional<std::string>& cache_salt) {
  VLLM_CHECK(block_size > 0, "block_size must be positive, got {}", block_size);
  const auto num_full_blocks = static_cast<int64_t>(token_ids.size()) / block_size;
  for (auto i = static_cast<int64_t>(block_hashes.size()); i < num_full_blocks; ++i) {
    std::optional<BlockHash> parent;
    if (i > 0) parent = block_hashes[i - 1];
    BlockExtraKeys extra_keys;
    if (i == 0) extra_keys.cache_salt = cache_salt;
    block_hashes.push_back(hash_block_tokens(
        parent, token_ids.subspan(static_cast<size_t>(i * block_size), block_size), extra_keys));
  }
}

}  // namespace vllm
