// Incremental detokenization. The chunks of add_token and flush concatenate to exactly
// Tokenizer::decode of the same ids. Decode is a lossy UTF-8 conversion of the joined token
// bytes, and that conversion only looks ahead within an unfinished trailing sequence, which
// is the part that pending_bytes_ keeps back.
#include "tokenizer/tokenizer.h"

#include "tokenizer/utf8.h"

namespace vllm {

IncrementalDetokenizer::IncrementalDetokenizer(const Tokenizer& tokenizer,
                                               bool skip_special_tokens)
    : tokenizer_(tokenizer), skip_special_tokens_(skip_special_tokens) {}

std::string IncrementalDetokenizer::add_token(int32_t id) {
  // token_bytes and is_special throw InvalidArgument for an id outside the vocabulary.
  std::string bytes = tokenizer_.token_bytes(id);
  if (skip_special_tokens_ && tokenizer_.is_special(id)) return {};
  pending_bytes_ += bytes;
  const size_t stable = utf8::stable_prefix_length(pending_bytes_);
  if (stable == 0) return {};
  std::string chunk = utf8::to_valid_lossy(std::string_view(pending_bytes_).substr(0, stable));
  pending_bytes_.erase(0, stable);
  text_ += chunk;
  return chunk;
}

std::string IncrementalDetokenizer::flush() {
  if (pending_bytes_.empty()) return {};
  std::string chunk = utf8::to_valid_lossy(pending_bytes_);
  pending_bytes_.clear();
  text_ += chunk;
  return chunk;
}

}  // namespace vllm
