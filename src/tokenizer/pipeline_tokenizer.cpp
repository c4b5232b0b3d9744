#include "tokenizer/pipeline_tokenizer.h"

#include "core/errors.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace vllm {

PipelineTokenizer::PipelineTokenizer(PipelineConfig config)
    : source_(std::move(config.source)),
      model_(std::move(config.model)),
      normalizer_(std::move(config.normalizer)),
      pre_tokenizer_(std::move(config.pre_tokenizer)),
      decoder_(std::move(config.decoder)),
      byte_level_decoder_(config.byte_level_decoder),
      prefix_ids_(std::move(config.prefix_ids)),
      suffix_ids_(std::move(config.suffix_ids)),
      bos_token_id_(config.bos_token_id),
      eos_token_id_(config.eos_token_id),
      chat_template_(std::move(config.chat_template)) {
  VLLM_CHECK(model_ != nullptr, "PipelineTokenizer needs a model");
  vocab_size_ = static_cast<int32_t>(model_->tokens().size());
  for (const AddedToken& token : config.added_tokens) {
    if (token.id < 0) {
      throw ModelLoadError(fmt::format("{}: added token '{}' has negative id {}", source_,
                                       token.content, token.id));
    }
    vocab_size_ = std::max(vocab_size_, token.id + 1);
  }
  if (vocab_size_ == 0) {
    throw ModelLoadError(fmt::format("{}: the tokenizer vocabulary is empty", source_));
  }
  special_.assign(vocab_size_, 0);
  std::vector<AddedToken> matched = config.added_tokens;
  for (AddedToken& token : matched) {
    special_[token.id] = token.special ? 1 : 0;
    added_token_ids_[token.content] = token.id;
    added_token_contents_[token.id] = token.content;
    // HF matches normalized added tokens by their normalized content.
    if (token.normalized && normalizer_) normalizer_->normalize(token.content);
  }
  for (const auto* ids : {&prefix_ids_, &suffix_ids_}) {
    for (int32_t id : *ids) {
      if (id < 0 || id >= vocab_size_) {
        throw ModelLoadError(fmt::format("{}: post-processor token id {} is outside the "
                                         "vocabulary of {} tokens", source_, id, vocab_size_));
      }
    }
  }
  added_tokens_ = std::make_unique<AddedTokenMatcher>(std::move(matched));
}

void PipelineTokenizer::set_chat_metadata(std::optional<int32_t> bos_token_id,
                                          std::optional<int32_t> eos_token_id,
                                          std::string chat_template) {
  if (bos_token_id) bos_token_id_ = bos_token_id;
  if (eos_token_id) eos_token_id_ = eos_token_id;
  if (!chat_template.empty()) chat_template_ = std::move(chat_template);
}

void PipelineTokenizer::check_id(int32_t id) const {
  if (id < 0 || id >= vocab_size_) {
    throw InvalidArgument(fmt::format("token id {} is out of range for the vocabulary of size "
                                      "{}", id, vocab_size_));
  }
}

std::vector<int32_t> PipelineTokenizer::encode(std::string_view text,
                                               bool add_special_tokens) const {
  if (!utf8::is_valid(text)) {
    throw InvalidArgument(fmt::format("text is not valid UTF-8 ({} bytes); encode it as "
                                      "UTF-8 before tokenizing", text.size()));
  }
  std::vector<int32_t> ids;
  if (add_special_tokens) ids.insert(ids.end(), prefix_ids_.begin(), prefix_ids_.end());

  std::vector<TextSegment> raw_segments;
  added_tokens_->split_raw(text, raw_segments);
  std::vector<TextSegment> segments;
  std::vector<Piece> pieces;
  for (const TextSegment& raw : raw_segments) {
    if (raw.added_token_id >= 0) {
      ids.push_back(raw.added_token_id);
      continue;
    }
    std::string normalized(text.substr(raw.span.begin, raw.span.end - raw.span.begin));
    if (normalizer_) normalizer_->normalize(normalized);
    segments.clear();
    added_tokens_->split_normalized(normalized, segments);
    for (const TextSegment& segment : segments) {
      if (segment.added_token_id >= 0) {
        ids.push_back(segment.added_token_id);
        continue;
      }
      pieces.clear();
      pieces.push_back({normalized.substr(segment.span.begin, segment.span.end - segment.span.begin),
                        raw.span.begin == 0 && segment.span.begin == 0});
      if (pre_tokenizer_) pre_tokenizer_->split(pieces);
      for (const Piece& piece : pieces) model_->tokenize(piece.text, ids);
    }
  }
  if (add_special_tokens) ids.insert(ids.end(), suffix_ids_.begin(), suffix_ids_.end());
  return ids;
}

const std::string& PipelineTokenizer::token_string(int32_t id) const {
  const auto it = added_token_contents_.find(id);
  if (it != added_token_contents_.end()) return it->second;
  static const std::string kEmpty;
  return id < static_cast<int32_t>(model_->tokens().size()) ? model_->tokens()[id] : kEmpty;
}

std::string PipelineTokenizer::decode(std::span<const int32_t> ids,
                                      bool skip_special_tokens) const {
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    check_id(id);
    if (skip_special_tokens && special_[id]) continue;
    tokens.push_back(token_string(id));
  }
  if (!decoder_) {
    std::string joined;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) joined += ' ';
      joined += tokens[i];
    }
    return joined;
  }
  decoder_->decode_chain(tokens);
  std::string text;
  for (const std::string& token : tokens) text += token;
  return text;
}

std::string PipelineTokenizer::id_to_token(int32_t id) const {
  check_id(id);
  return token_string(id);
}

std::optional<int32_t> PipelineTokenizer::token_to_id(std::string_view token) const {
  const auto it = added_token_ids_.find(std::string(token));
  if (it != added_token_ids_.end()) return it->second;
  return model_->token_to_id(token);
}

std::string PipelineTokenizer::token_bytes(int32_t id) const {
  check_id(id);
  const std::string& token = token_string(id);
  const bool added = added_token_contents_.count(id) != 0;
  if (!added && model_->byte_fallback()) {
    if (auto byte = parse_byte_token(token)) return std::string(1, static_cast<char>(*byte));
  }
  if (byte_level_decoder_) return byte_level::decode_token(token);
  if (!decoder_) return " " + token;
  // What the token adds after a plain first token: decoders that treat the first token
  // differently (Metaspace, WordPiece, Strip after Fuse) see it in a later position.
  std::vector<std::string> alone{"a"};
  decoder_->decode_chain(alone);
  std::vector<std::string> pair{"a", token};
  decoder_->decode_chain(pair);
  std::string first;
  for (const std::string& t : alone) first += t;
  std::string both;
  for (const std::string& t : pair) both += t;
  if (both.compare(0, first.size(), first) == 0) return both.substr(first.size());
  return token;
}

bool PipelineTokenizer::is_special(int32_t id) const {
  check_id(id);
  return special_[id] != 0;
}

}  // namespace vllm
