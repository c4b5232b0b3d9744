#include "tokenizer/bpe_tokenizer.h"

#include <stdexcept>

#include "core/errors.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace vllm {

ByteLevelBpeTokenizer::ByteLevelBpeTokenizer(ByteLevelBpeConfig config)
    : source_(std::move(config.source)),
      ignore_merges_(config.ignore_merges),
      pre_tokenizer_(std::move(config.pre_tokenizer)),
      prefix_ids_(std::move(config.prefix_ids)),
      suffix_ids_(std::move(config.suffix_ids)),
      bos_token_id_(config.bos_token_id),
      eos_token_id_(config.eos_token_id),
      chat_template_(std::move(config.chat_template)) {
  if (config.tokens.empty()) {
    throw ModelLoadError(fmt::format("{}: the tokenizer vocabulary is empty", source_));
  }
  const int32_t num_tokens = static_cast<int32_t>(config.tokens.size());
  for (const AddedToken& token : config.added_tokens) {
    if (token.id < 0 || token.id >= num_tokens) {
      throw ModelLoadError(fmt::format("{}: added token '{}' has id {} outside the vocabulary "
                                       "of {} tokens", source_, token.content, token.id,
                                       num_tokens));
    }
  }
  try {
    model_ = std::make_unique<BpeModel>(std::move(config.tokens), config.merges);
  } catch (const std::invalid_argument& e) {
    throw ModelLoadError(fmt::format("{}: {}", source_, e.what()));
  }

  token_bytes_.resize(num_tokens);
  special_.assign(num_tokens, 0);
  for (int32_t id = 0; id < num_tokens; ++id) {
    token_bytes_[id] = byte_level::decode_token(model_->id_to_token(id));
  }
  // Added tokens decode from their content (HF looks them up before the model vocabulary).
  for (const AddedToken& token : config.added_tokens) {
    token_bytes_[token.id] = byte_level::decode_token(token.content);
    special_[token.id] = token.special ? 1 : 0;
    added_token_ids_[token.content] = token.id;
    added_token_contents_[token.id] = token.content;
  }
  for (int byte = 0; byte < 256; ++byte) {
    std::string symbol;
    utf8::append_code_point(symbol, byte_level::byte_to_code_point(static_cast<uint8_t>(byte)));
    byte_ids_[byte] = model_->token_to_id(symbol).value_or(-1);
  }
  for (int32_t id : prefix_ids_) check_id(id);
  for (int32_t id : suffix_ids_) check_id(id);
  added_tokens_ = std::make_unique<AddedTokenMatcher>(std::move(config.added_tokens));
}

void ByteLevelBpeTokenizer::set_chat_metadata(std::optional<int32_t> bos_token_id,
                                              std::optional<int32_t> eos_token_id,
                                              std::string chat_template) {
  if (bos_token_id) bos_token_id_ = bos_token_id;
  if (eos_token_id) eos_token_id_ = eos_token_id;
  if (!chat_template.empty()) chat_template_ = std::move(chat_template);
}

void ByteLevelBpeTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size()) {
    throw InvalidArgument(fmt::format("token id {} is out of range for the vocabulary of size "
                                      "{}", id, vocab_size()));
  }
}

void ByteLevelBpeTokenizer::encode_piece(std::string_view piece,
                                         std::vector<int32_t>& ids) const {
  if (cache_.lookup(piece, ids)) return;
  const size_t first = ids.size();
  if (ignore_merges_) {
    if (auto id = model_->token_to_id(byte_level::encode(piece))) {
      ids.push_back(*id);
      cache_.insert(piece, std::span<const int32_t>(ids).subspan(first));
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  for (char c : piece) {
    // HF drops a character missing from the vocabulary when the model has no unk token.
    const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
    if (id >= 0) symbols.push_back(id);
  }
  model_->merge(symbols, ids);
  cache_.insert(piece, std::span<const int32_t>(ids).subspan(first));
}

std::vector<int32_t> ByteLevelBpeTokenizer::encode(std::string_view text,
                                                   bool add_special_tokens) const {
  if (!utf8::is_valid(text)) {
    // HF accepts only str (always valid Unicode), so there is no lossy behaviour to copy.
    throw InvalidArgument(fmt::format("text is not valid UTF-8 ({} bytes); encode it as "
                                      "UTF-8 before tokenizing", text.size()));
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + prefix_ids_.size() + suffix_ids_.size() + 4);
  if (add_special_tokens) ids.insert(ids.end(), prefix_ids_.begin(), prefix_ids_.end());

  std::vector<TextSegment> segments;
  added_tokens_->split(text, segments);
  std::vector<TextSpan> pieces;
  for (const TextSegment& segment : segments) {
    if (segment.added_token_id >= 0) {
      ids.push_back(segment.added_token_id);
      continue;
    }
    pieces.clear();
    if (pre_tokenizer_) {
      pre_tokenizer_->split(text, segment.span, pieces);
    } else {
      pieces.push_back(segment.span);
    }
    for (const TextSpan& piece : pieces) {
      encode_piece(text.substr(piece.begin, piece.end - piece.begin), ids);
    }
  }

  if (add_special_tokens) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

std::string ByteLevelBpeTokenizer::decode(std::span<const int32_t> ids,
                                          bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    check_id(id);
    if (skip_special_tokens && special_[id]) continue;
    bytes += token_bytes_[id];
  }
  return utf8::to_valid_lossy(bytes);
}

std::string ByteLevelBpeTokenizer::id_to_token(int32_t id) const {
  check_id(id);
  const auto it = added_token_contents_.find(id);
  return it != added_token_contents_.end() ? it->second : model_->id_to_token(id);
}

std::optional<int32_t> ByteLevelBpeTokenizer::token_to_id(std::string_view token) const {
  const auto it = added_token_ids_.find(std::string(token));
  if (it != added_token_ids_.end()) return it->second;
  return model_->token_to_id(token);
}

std::string ByteLevelBpeTokenizer::token_bytes(int32_t id) const {
  check_id(id);
  return token_bytes_[id];
}

bool ByteLevelBpeTokenizer::is_special(int32_t id) const {
  check_id(id);
  return special_[id] != 0;
}

}  // namespace vllm
