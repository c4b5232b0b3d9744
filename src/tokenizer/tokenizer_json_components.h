// Parsers of tokenizer.json components for the general pipeline (pipeline_tokenizer.h).
// Each throws ModelLoadError naming `path` and the component for a type or option it does
// not reproduce, rather than tokenizing differently from HF.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "tokenizer/decoder.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/piece_pre_tokenizer.h"
#include "tokenizer/token_model.h"

namespace vllm::tokenizer_json {

// Largest token id accepted. The token table is sized by the largest id, so without a limit
// one entry with id 2^31 - 1 would allocate 64 GiB. Vocabularies in use stay below 300,000.
constexpr int64_t kMaxTokenId = (1 << 22) - 1;

std::unique_ptr<Normalizer> parse_normalizer(const std::string& path, const nlohmann::json& node);
std::unique_ptr<PiecePreTokenizer> parse_pre_tokenizer(const std::string& path,
                                                       const nlohmann::json& node);
// `byte_level` is set when the decoder (or a step of it) is ByteLevel.
std::unique_ptr<Decoder> parse_decoder(const std::string& path, const nlohmann::json& node,
                                       bool& byte_level);
std::unique_ptr<TokenModel> parse_model(const std::string& path, const nlohmann::json& node);

}  // namespace vllm::tokenizer_json
